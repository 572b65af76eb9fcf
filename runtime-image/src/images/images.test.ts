/**
 * The platform images against the real Docker engine, and a pod run by hand
 * the way the Docker target runs it: pause + logic sidecar + runtime, hardened.
 * Platform images are kept (they are the cache); everything else is removed.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import Dockerode from 'dockerode';
import {
  Labels,
  PLATFORM_SIDECAR_LIMITS,
  PLATFORM_SIDECAR_USERS,
  TLS_SECRET,
  parseMemory,
  NODE_TRUST_FILE,
  withNodeTrust,
} from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packContext } from './build-context.js';
import { readBuildOutput } from './build-output.js';
import { DEFAULT_HOST_PATHS, ensurePlatformImages, type PlatformImages } from './images.js';
import { runtimeNodeContext } from './contexts.js';
import { containerLogs, execExitCode, removeAll } from '../test-support/docker-pod.js';
import { http, waitFor } from '../test-support/runtime-process.js';
import { selfSigned } from '../../../test/support/certs.js';

const docker = new Dockerode();
let images: PlatformImages;
const log: string[] = [];

beforeAll(async () => {
  images = await ensurePlatformImages({ docker, log: (l) => log.push(l) });
}, 300_000);

/** Each platform sidecar runs as a user of its own (docs/security.md, intra-pod); the rest as the app's. */
const idOf = (u: { uid: number; gid: number }) => `${u.uid}:${u.gid}`;
const userOf: Record<string, string> = {
  logShipper: idOf(PLATFORM_SIDECAR_USERS.logs),
  tlsTerminator: idOf(PLATFORM_SIDECAR_USERS.tls),
  procinfo: idOf(PLATFORM_SIDECAR_USERS.procinfo),
};

describe('platform images', () => {
  it('builds every one, content-tagged and labelled as managed', async () => {
    for (const [key, ref] of Object.entries(images)) {
      expect(ref, key).toMatch(/^sidecar\/[a-z-]+:[0-9a-f]{12}$/);
      const info = await docker.getImage(ref).inspect();
      expect(info.Config.Labels?.[Labels.managed], ref).toBe('true');
      expect(info.Config.User, ref).toBe(userOf[key] ?? '1000:1000');
    }
    expect((await docker.getImage(images.runtimeNode).inspect()).Config.Entrypoint).toEqual([
      'node',
      '/sidecar/runtime.js',
    ]);
  });

  it('returns the same refs on a second call without building anything', async () => {
    const second: string[] = [];
    const again = await ensurePlatformImages({ docker, log: (l) => second.push(l) });
    expect(again).toEqual(images);
    expect(second.filter((l) => l.includes('building'))).toEqual([]);
  });

  it('builder-node runs npm as the app user with a writable HOME', async () => {
    const name = `rtimg-test-npm-${randomBytes(4).toString('hex')}`;
    try {
      const c = await docker.createContainer({
        name,
        Image: images.builderNode,
        Cmd: ['sh', '-c', 'npm --version && id -u && touch "$HOME/.npm/ok" && echo writable'],
        HostConfig: { ReadonlyRootfs: false, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] },
      });
      await c.start();
      expect((await c.wait()).StatusCode).toBe(0);
      const out = await containerLogs(docker, c.id);
      expect(out).toMatch(/^\d+\.\d+\.\d+\n1000\nwritable\n$/);
    } finally {
      await removeAll(docker, { containers: [name], volumes: [], images: [] });
    }
  });
});

describe("runtime-node's trusted CAs", () => {
  // The script a user's code would run: an HTTPS request to a server whose certificate only the host's bundle trusts.
  const CLIENT = `import https from 'node:https'; import fs from 'node:fs'; import tls from 'node:tls'; import { X509Certificate } from 'node:crypto';
const s = https.createServer({ key: fs.readFileSync('/t/key.pem'), cert: fs.readFileSync('/t/cert.pem') }, (q, r) => r.end('ok'));
s.listen(0, () => {
  const blocks = fs.readFileSync('${NODE_TRUST_FILE}', 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g);
  const trusted = new Set(blocks.map((b) => new X509Certificate(b).fingerprint256));
  console.log('node roots in the trust file: ' + tls.rootCertificates.every((c) => trusted.has(new X509Certificate(c).fingerprint256)));
  https.get({ host: 'localhost', port: s.address().port }, (r) => {
    r.resume(); console.log('host CA trusted: ' + r.statusCode); s.close();
  }).on('error', (e) => { console.log('host CA not trusted: ' + e.code); s.close(); });
});
`;

  it("trusts the host's CA bundle and Node's own roots, whatever the app sets, and leaves out a block that does not parse", async () => {
    const id = randomBytes(4).toString('hex');
    const image = `sidecar-test/runtime-ca-${id}:1`;
    const dir = await mkdtemp(join(tmpdir(), 'rtimg-ca-'));
    const names: string[] = [];
    try {
      const { cert, key } = selfSigned('localhost');
      // A block that does not parse first: OpenSSL's store would drop the whole file for it.
      const broken = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
      await writeFile(join(dir, 'host-bundle.pem'), broken + cert);
      for (const [file, text] of [
        ['cert.pem', cert],
        ['key.pem', key],
        ['client.mjs', CLIENT],
      ] as const)
        await writeFile(join(dir, file), text, { mode: 0o644 });
      await chmod(dir, 0o755);
      // runtime-node's context with the host bundle holding only this certificate (on top of runtime-node itself).
      const warnings: string[] = [];
      const ctx = await runtimeNodeContext(
        { ...DEFAULT_HOST_PATHS, caBundle: join(dir, 'host-bundle.pem') },
        images.runtimeNode,
        (line) => warnings.push(line),
      );
      expect(warnings).toEqual([
        expect.stringMatching(/host-bundle\.pem: a certificate that does not parse was left out/),
      ]);
      await readBuildOutput(
        await docker.buildImage(packContext(ctx), {
          t: image,
          buildargs: { ...ctx.buildArgs },
          nocache: true,
          rm: true,
          forcerm: true,
        }),
      );
      // The env the pod template gives the runtime for an app's variables.
      const run = async (appEnv: Record<string, string>) => {
        const env = withNodeTrust(Object.entries(appEnv).map(([name, value]) => ({ name, value })));
        const name = `rtimg-test-ca-${randomBytes(4).toString('hex')}`;
        names.push(name);
        const c = await docker.createContainer({
          name,
          Image: image,
          Entrypoint: ['node', '/t/client.mjs'],
          Env: env.map((e) => `${e.name}=${e.value}`),
          HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], Binds: [`${dir}:/t:ro`] },
        });
        await c.start();
        expect((await c.wait()).StatusCode).toBe(0);
        return containerLogs(docker, c.id);
      };
      const trusted = (out: string) => {
        expect(out).toContain('node roots in the trust file: true\n');
        expect(out).toContain('host CA trusted: 200\n');
      };
      trusted(await run({}));
      trusted(await run({ NODE_OPTIONS: '--max-old-space-size=64' }));
      // An app's own OpenSSL file (for its tools): Node keeps its roots and reads the trust file as extra CAs.
      trusted(await run({ SSL_CERT_FILE: '/t/none.pem', NODE_OPTIONS: '--max-old-space-size=64' }));
      // What the store is for: with Node's bundled one only its own roots count.
      expect(await run({ NODE_OPTIONS: '--use_bundled_ca' })).toMatch(/host CA not trusted: \w+/);
    } finally {
      await removeAll(docker, { containers: names, volumes: [], images: [image] });
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a pod run by hand: pause + logic sidecar + runtime', () => {
  const id = randomBytes(4).toString('hex');
  const names = {
    pause: `rtimg-test-pause-${id}`,
    logic: `rtimg-test-logic-${id}`,
    runtime: `rtimg-test-runtime-${id}`,
    volume: `rtimg-test-ws-${id}`,
  };
  const logicImage = `sidecar-test/logic-${id}:1`;
  const hardening = {
    ReadonlyRootfs: true,
    Tmpfs: { '/tmp': 'rw,size=16m' },
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
  };

  afterAll(async () => {
    await removeAll(docker, {
      containers: [names.runtime, names.logic, names.pause],
      volumes: [names.volume],
      images: [logicImage],
    });
  });

  it('publishes the bundle through the volume and serves it from the runtime', async () => {
    // A logic image exactly as the worker builds one: FROM logic-base, bundle at /bundle.
    const output = await docker.buildImage(
      packContext({
        dockerfile: `FROM ${images.logicBase}\nCOPY bundle/ /bundle/\n`,
        entries: [
          {
            type: 'file',
            name: 'bundle/index.mjs',
            content: "export default (req, res) => res.end('hello from the logic sidecar ' + req.url);\n",
          },
          {
            type: 'file',
            name: 'bundle/.sidecar/manifest.json',
            content: JSON.stringify({ runtime: 'node', mode: 'handler', entry: 'index.mjs' }),
          },
        ],
      }),
      { t: logicImage, nocache: true },
    );
    await readBuildOutput(output);

    await docker.createVolume({ Name: names.volume });
    const pause = await docker.createContainer({
      name: names.pause,
      Image: images.pause,
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: { ...hardening, PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    await pause.start();
    const net = { NetworkMode: `container:${pause.id}` };

    const logic = await docker.createContainer({
      name: names.logic,
      Image: logicImage,
      User: '1000:1000',
      HostConfig: {
        ...hardening,
        ...net,
        Memory: 32 * 1024 * 1024,
        Mounts: [{ Type: 'volume', Source: names.volume, Target: '/workspace' }],
      },
    });
    await logic.start();
    await waitFor(
      'the startup probe (test -f /workspace/.ready)',
      async () => (await execExitCode(docker, logic.id, ['test', '-f', '/workspace/.ready'])) === 0,
      20_000,
    );

    const runtime = await docker.createContainer({
      name: names.runtime,
      Image: images.runtimeNode,
      User: '1000:1000',
      Env: ['PORT=8080'],
      HostConfig: {
        ...hardening,
        ...net,
        Memory: 256 * 1024 * 1024,
        Mounts: [{ Type: 'volume', Source: names.volume, Target: '/workspace', ReadOnly: true }],
      },
    });
    await runtime.start();

    const ports = (await pause.inspect()).NetworkSettings.Ports['8080/tcp'];
    const port = Number(ports?.[0]?.HostPort);
    expect(port).toBeGreaterThan(0);
    await waitFor('runtime ready', async () => (await http({ port, path: '/__sidecar/ready' })).status === 200, 30_000);
    const res = await http({ port, path: '/abc' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello from the logic sidecar /abc');
    expect(await containerLogs(docker, runtime.id)).toContain('handler mode, entry index.mjs');

    // A sidecar restart republishes on the populated volume; the runtime keeps serving.
    await logic.restart({ t: 5 });
    // Republished: the new release beside the previous one (older ones pruned), and ready again.
    const republished = ['sh', '-c', 'test -f /workspace/.ready && test "$(ls /workspace/releases | wc -l)" -eq 2'];
    await waitFor(
      'republished after restart',
      async () => (await execExitCode(docker, logic.id, republished)) === 0,
      20_000,
    );
    expect((await logic.inspect()).State.Running).toBe(true);
    expect((await http({ port, path: '/after' })).body).toBe('hello from the logic sidecar /after');

    // SIGTERM: runtime drains and exits 0; sidecar and pause exit 0 promptly too.
    for (const c of [runtime, logic, pause]) {
      await c.stop({ t: 10 });
      expect((await c.inspect()).State.ExitCode, (await c.inspect()).Name).toBe(0);
    }
  });
});

describe('the log-shipper image, hardened as in a pod', () => {
  const id = randomBytes(4).toString('hex');
  const names = {
    shipper: `rtimg-test-shipper-${id}`,
    writer: `rtimg-test-writer-${id}`,
    logs: `rtimg-test-logs-${id}`,
    state: `rtimg-test-state-${id}`,
  };
  const hardening = {
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    Memory: 16 * 1024 * 1024, // PLATFORM_SIDECAR_LIMITS.logs
    NanoCpus: 100_000_000,
  };
  const append = async (text: string) => {
    // The runtime's side: uid 1000, the volume read-write.
    const w = await docker.createContainer({
      name: `${names.writer}-${randomBytes(2).toString('hex')}`,
      Image: images.runtimeNode,
      User: '1000:1000',
      Entrypoint: ['node', '-e', `require('node:fs').appendFileSync('/var/log/app/app.log', ${JSON.stringify(text)})`],
      HostConfig: {
        ...hardening,
        Memory: 64 * 1024 * 1024, // node, not the shipper
        Mounts: [{ Type: 'volume', Source: names.logs, Target: '/var/log/app' }],
      },
    });
    try {
      await w.start();
      const { StatusCode } = await w.wait();
      expect(StatusCode, await containerLogs(docker, w.id)).toBe(0);
    } finally {
      await w.remove({ force: true });
    }
  };
  const shipped = async (containerId: string) =>
    (await containerLogs(docker, containerId))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { file: string; line: string }).line);

  afterAll(async () => {
    await removeAll(docker, { containers: [names.shipper], volumes: [names.logs, names.state], images: [] });
  });

  it('lets the runtime write a fresh volume, ships a last partial line on SIGTERM and exits 0, resumes from its offsets when restarted', async () => {
    await docker.createVolume({ Name: names.logs });
    await docker.createVolume({ Name: names.state });
    // The shipper mounts both fresh volumes first, as the first container of a pod does: they take its directories' owners (app logs: 1000; its state: its own uid).
    const shipper = await docker.createContainer({
      name: names.shipper,
      Image: images.logShipper,
      User: userOf.logShipper, // as the pod template runs it: its own uid, the app's group
      HostConfig: {
        ...hardening,
        Mounts: [
          { Type: 'volume', Source: names.logs, Target: '/var/log/app', ReadOnly: true },
          { Type: 'volume', Source: names.state, Target: '/var/lib/log-shipper' },
        ],
      },
    });
    await shipper.start();
    await append('one\ntwo\nno newline yet');
    await waitFor('two shipped', async () => (await shipped(shipper.id)).includes('two'));
    expect(await shipped(shipper.id)).toEqual(['one', 'two']);

    await shipper.stop({ t: 10 }); // SIGTERM: one last full read
    expect((await shipper.inspect()).State.ExitCode).toBe(0);
    expect(await shipped(shipper.id)).toEqual(['one', 'two', 'no newline yet']);

    await append('three\n'); // written while the shipper is down
    await shipper.start();
    await waitFor('three shipped', async () => (await shipped(shipper.id)).includes('three'));
    expect(await shipped(shipper.id)).toEqual(['one', 'two', 'no newline yet', 'three']);
  }, 60_000);
});

describe('the tls-terminator image, hardened as in a pod', () => {
  const name = `rtimg-test-tls-${randomBytes(4).toString('hex')}`;
  let dir = '';

  afterAll(async () => {
    await removeAll(docker, { containers: [name], volumes: [], images: [] });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the certificate and key of its secret files as its own uid, and stops gracefully on its STOPSIGNAL', async () => {
    const info = await docker.getImage(images.tlsTerminator).inspect();
    expect(info.Config.Entrypoint).toEqual(['/usr/sbin/haproxy', '-db', '-f', '/etc/tls-terminator/haproxy.cfg']);
    expect((info.Config as { StopSignal?: string }).StopSignal).toBe('SIGUSR1');
    // The secret volume: root-owned files, mode 0444 (TLS_SECRET).
    const material = selfSigned('web.localhost');
    dir = await mkdtemp(join(tmpdir(), 'rtimg-tls-'));
    await writeFile(join(dir, TLS_SECRET.certFile), material.cert, { mode: TLS_SECRET.mode });
    await writeFile(join(dir, TLS_SECRET.keyFile), material.key, { mode: TLS_SECRET.mode });
    await chmod(dir, 0o755);
    const c = await docker.createContainer({
      name,
      Image: images.tlsTerminator,
      User: userOf.tlsTerminator,
      Env: [
        `SIDECAR_TLS_CERT_FILE=${TLS_SECRET.mountPath}/${TLS_SECRET.certFile}`,
        `SIDECAR_TLS_KEY_FILE=${TLS_SECRET.mountPath}/${TLS_SECRET.keyFile}`,
      ],
      ExposedPorts: { '8443/tcp': {} },
      HostConfig: {
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Memory: parseMemory(PLATFORM_SIDECAR_LIMITS.tls.memory),
        PortBindings: { '8443/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        Mounts: [{ Type: 'bind', Source: dir, Target: TLS_SECRET.mountPath, ReadOnly: true }],
      },
    });
    await c.start();
    const port = Number((await c.inspect()).NetworkSettings.Ports['8443/tcp']![0]!.HostPort);
    // No app listens on 8080 in this container: a verified handshake, then the sidecar's own 502.
    const answer = await waitFor('an HTTPS answer', () => httpsStatus(port, material.cert).catch(() => undefined));
    expect(answer).toEqual({ status: 502, authorized: true });
    await c.stop({ t: 10 });
    const state = (await c.inspect()).State;
    expect(state.ExitCode, await containerLogs(docker, c.id)).toBe(0);
    expect(await containerLogs(docker, c.id)).not.toContain('PRIVATE KEY');
  }, 60_000);
});

function httpsStatus(port: number, ca: string): Promise<{ status: number; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined, headers: { host: 'web.localhost' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, authorized: (res.socket as TLSSocket).authorized }));
      },
    );
    req.on('error', reject);
  });
}
