import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { loadConfig } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, DOCKER_TLS_FILES } from '../../docker-engine.js';
import { containerEnv, containerOf, createSecrets, deployDoc, freePort, Program } from './deploy-manifests.js';

/**
 * The build engine as deploy/kubernetes/builder.yaml runs it: the real dockerd of this host with the
 * container's own flags (TCP, --tlsverify, the certificates of the Secret create-secrets.sh made), only
 * its address, certificate folder and state moved to this test's (its own data and exec roots, no
 * bridge or iptables). It runs in a network namespace of its own: a second dockerd in the host's
 * namespace removed the host engine's docker0 bridge when it stopped (seen here), breaking every other
 * container. The test reaches it through a plain TCP forwarder on localhost (TLS passes through, so
 * the certificate is checked against "localhost" as before). The worker connects as worker.yaml
 * configures it, through the worker's own client (connectDocker); nobody else gets an answer.
 */
const dockerd = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
})();
const hasIp = (() => {
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const canRun = dockerd !== '' && hasIp && process.getuid?.() === 0;
if (!canRun)
  console.info(
    'skipped: the build engine test needs dockerd, iproute2 and root (it starts a second dockerd in a network namespace of its own)',
  );

/** A network namespace with a veth pair to the host: the second engine's own network. */
const suffix = Math.random().toString(16).slice(2, 6);
const netns = `sidecar-bt-${suffix}`;
const subnet = `10.231.${Math.floor(Math.random() * 250) + 1}`;
const engineIp = `${subnet}.2`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
function makeNetns(): void {
  ip('netns', 'add', netns);
  ip('link', 'add', `sbt${suffix}h`, 'type', 'veth', 'peer', 'name', `sbt${suffix}n`);
  ip('link', 'set', `sbt${suffix}n`, 'netns', netns);
  ip('addr', 'add', `${subnet}.1/30`, 'dev', `sbt${suffix}h`);
  ip('link', 'set', `sbt${suffix}h`, 'up');
  ip('netns', 'exec', netns, 'ip', 'addr', 'add', `${engineIp}/30`, 'dev', `sbt${suffix}n`);
  ip('netns', 'exec', netns, 'ip', 'link', 'set', `sbt${suffix}n`, 'up');
  ip('netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up');
}
let forwarder: Server | undefined;
const piped = new Set<Socket>(); // closed at the end: clients keep pooled connections open

const dir = mkdtempSync(join(tmpdir(), 'sidecar-deploy-builder-'));
const mine = createSecrets({ SIDECAR_BUILDER_EXTRA_SANS: 'DNS:localhost' });
/** Another installation's: its certificates are signed by another CA. */
const theirs = createSecrets({ SIDECAR_BUILDER_EXTRA_SANS: 'DNS:localhost' });
const builder = containerOf(deployDoc('Deployment', 'builder'), 'dockerd');
const workerContainer = containerOf(deployDoc('Deployment', 'worker'), 'worker');
let engine: Program;
let port = 0;

type TlsFiles = Record<keyof typeof DOCKER_TLS_FILES, string>;
/** A TLS Secret's three files, as its values. */
const tlsOf = (values: Record<string, string>, secret: string): TlsFiles => ({
  ca: values[`${secret}/${DOCKER_TLS_FILES.ca}`]!,
  cert: values[`${secret}/${DOCKER_TLS_FILES.cert}`]!,
  key: values[`${secret}/${DOCKER_TLS_FILES.key}`]!,
});
/** Writes them into a folder, as the Secret's volume would. */
function tlsFolder(name: string, files: TlsFiles): string {
  const folder = join(dir, name);
  mkdirSync(folder, { mode: 0o700 });
  for (const k of ['ca', 'cert', 'key'] as const)
    writeFileSync(join(folder, DOCKER_TLS_FILES[k]), files[k], { mode: 0o400 });
  return folder;
}
/** The worker's configuration, as worker.yaml sets it, with the host and certificate folder of this test. */
function workerConfig(tlsDir: string, hostName = 'localhost') {
  const env = containerEnv(workerContainer, { ...mine.values, 'sidecar-redis/password': 'x' });
  expect(env.SIDECAR_DOCKER_HOST).toBe('tcp://builder.sidecar-system.svc.cluster.local:2376');
  return loadConfig('worker', {
    ...env,
    SIDECAR_DATA_DIR: dir,
    SIDECAR_DOCKER_HOST: `tcp://${hostName}:${port}`,
    SIDECAR_DOCKER_TLS_DIR: tlsDir,
  });
}
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => 'answered',
    (e: NodeJS.ErrnoException) => `${e.code ?? ''} ${e.message}`,
  );

beforeAll(async () => {
  if (!canRun) return;
  port = await freePort();
  const server = tlsFolder('server', tlsOf(mine.values, 'sidecar-builder-tls'));
  const [first, ...flags] = builder.args!;
  expect(first).toBe('dockerd');
  const args = flags.map((a) =>
    a === '--host=tcp://0.0.0.0:2376'
      ? `--host=tcp://${engineIp}:${port}`
      : a.replace('/etc/docker/tls/', `${server}/`),
  );
  expect(args).toContain(`--host=tcp://${engineIp}:${port}`);
  expect(args.filter((a) => a.includes(server))).toHaveLength(3);
  makeNetns();
  // localhost:<port> → the engine in its namespace, byte for byte.
  forwarder = createServer((client) => {
    const upstream = connect(port, engineIp);
    client.pipe(upstream).pipe(client);
    piped.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      piped.delete(client);
      piped.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => forwarder!.listen(port, '127.0.0.1', resolve));
  // nsenter, not `ip netns exec`: the latter mounts a fresh /sys, hiding the cgroup mounts dockerd needs.
  engine = new Program('nsenter', [
    `--net=/var/run/netns/${netns}`,
    dockerd,
    ...args,
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'dockerd.pid')}`,
    '--bridge=none',
    '--iptables=false',
    '--ip-masq=false',
  ]);
  const client = await connectDocker(
    workerConfig(tlsFolder('client', tlsOf(mine.values, 'sidecar-builder-client-tls'))),
  );
  await engine.until(() => client.ping().then(() => true), 'the build engine answers the worker', 60_000);
}, 90_000);

afterAll(async () => {
  await engine?.stop();
  for (const socket of piped) socket.destroy();
  await new Promise((resolve) => (forwarder ? forwarder.close(resolve) : resolve(undefined)));
  if (canRun) {
    try {
      ip('netns', 'del', netns); // the veth pair goes with it
    } catch {
      // never made (beforeAll failed early)
    }
  }
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe.skipIf(!canRun)(
  'the build engine from deploy/kubernetes/builder.yaml, reached as worker.yaml configures it',
  () => {
    it("answers the worker's client (its certificate from sidecar-builder-client-tls)", async () => {
      const docker = await connectDocker(workerConfig(join(dir, 'client')));
      const version = await docker.version();
      expect(version.ApiVersion).toMatch(/^\d+\.\d+$/);
      expect(await docker.listContainers({ all: true })).toEqual([]);
    });

    it('refuses a client without a certificate, and one whose certificate another CA signed', async () => {
      const { ca } = tlsOf(mine.values, 'sidecar-builder-client-tls');
      expect(await refusal(new Docker({ protocol: 'https', host: 'localhost', port, ca }).ping())).not.toBe('answered');
      const other = { ...tlsOf(theirs.values, 'sidecar-builder-client-tls'), ca };
      expect(await refusal(new Docker({ protocol: 'https', host: 'localhost', port, ...other }).ping())).not.toBe(
        'answered',
      );
    });

    it("refuses plain HTTP (no unauthenticated API, as the image's default tcp:2375 would be)", async () => {
      const res = await fetch(`http://localhost:${port}/_ping`).then(
        (r) => r.status,
        () => 0,
      );
      expect(res).not.toBe(200);
    });

    it('the worker trusts only its own engine: not one another CA signed, not a name the certificate does not carry', async () => {
      // The right client certificate; only the CA the worker trusts is another installation's.
      const foreignCa = tlsFolder('foreign-ca', {
        ...tlsOf(mine.values, 'sidecar-builder-client-tls'),
        ca: tlsOf(theirs.values, 'sidecar-builder-tls').ca,
      });
      expect(await refusal((await connectDocker(workerConfig(foreignCa))).ping())).toMatch(
        /self.signed|unable to verify|certificate/i,
      );
      // 127.0.0.1 is not among the certificate's names (builder.sidecar-system.svc..., and localhost here).
      expect(await refusal((await connectDocker(workerConfig(join(dir, 'client'), '127.0.0.1'))).ping())).toMatch(
        /ERR_TLS_CERT_ALTNAME_INVALID|altnames/,
      );
    });

    it('the configuration refuses a TCP engine without a certificate folder', () => {
      expect(() =>
        loadConfig('worker', {
          SIDECAR_DATA_DIR: dir,
          SIDECAR_REDIS_URL: 'redis://127.0.0.1:6379',
          SIDECAR_DOCKER_HOST: `tcp://localhost:${port}`,
        }),
      ).toThrow(/SIDECAR_DOCKER_TLS_DIR: required with SIDECAR_DOCKER_HOST/);
    });
  },
);
