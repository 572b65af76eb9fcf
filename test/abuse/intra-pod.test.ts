import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { type Bystander, expectUnharmed, startBystander } from '../support/bystander.js';
import { selfSigned } from '../support/certs.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually, podOf } from '../support/pods.js';

/*
 * Intra-pod (issue 14, finding 9): an app whose pod shares one PID namespace (procinfo on) tries to
 * read its own TLS sidecar's private key — through the sidecar's environment
 * (/proc/<pid>/environ), through the sidecar's root (/proc/<pid>/root/run/secrets/...), and at the
 * path where the sidecar finds it. The key is a file of a volume only the sidecar mounts, the
 * sidecar runs as a uid of its own, so each read is refused; the sidecar still serves HTTPS with it.
 * A bystander app of another tenant keeps serving the whole time.
 */
const docker = new Docker();
const APP = 'prober';
const KEY_PATH = '/run/secrets/sidecar-tls/tls.key';
let p: RunningPlatform;
let bystander: Bystander;
const own = selfSigned(`${APP}.localhost`);

/** Reports what the app can read of every tls-terminator process it sees, and of its own filesystem. */
const prober = `
const fs = require('fs');
const read = (f) => { try { return { ok: fs.readFileSync(f, 'utf8') }; } catch (e) { return { error: e.code }; } };
require('http').createServer((req, res) => {
  const sidecars = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
    const cmd = read('/proc/' + pid + '/cmdline');
    if (!cmd.ok || !cmd.ok.includes('tls-terminator')) continue;
    sidecars.push({
      pid,
      environ: read('/proc/' + pid + '/environ'),
      key: read('/proc/' + pid + '/root${KEY_PATH}'),
      mem: read('/proc/' + pid + '/mem'),
    });
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ sidecars, ownPath: read('${KEY_PATH}'), env: process.env }));
}).listen(process.env.PORT);
`;

interface Probe {
  sidecars: Array<{ pid: string; environ: { error?: string }; key: { error?: string }; mem: { error?: string } }>;
  ownPath: { error?: string };
}

beforeAll(async () => {
  // Five containers start one after another in this pod: on a loaded 2-core machine that can take
  // longer than the suite's 15 s rollout budget, which this file is not about.
  p = await startPlatform({ SIDECAR_READY_TIMEOUT_MS: '60000' });
  bystander = await startBystander(p);
  await createApp(p, APP, { sidecars: { procinfo: true, tls: { enabled: true, ...own } } });
  const first = await deploy(
    p,
    APP,
    await tgzOf({ 'sidecar.json': '{"start":"node server.js"}', 'server.js': prober }),
  );
  expect(first.deploy.status, first.log).toBe('succeeded');
}, 240_000);
afterAll(async () => {
  await bystander?.stop();
  await stopPlatform(p);
}, 120_000);

describe("an app reading its own TLS sidecar's private key", () => {
  it('sees the sidecar process (one PID namespace) but reads neither its environment, its memory, nor its key file', async () => {
    const res = await p.get(APP);
    expect(res.status).toBe(200);
    const probe = JSON.parse(res.body) as Probe;
    // The attack was possible to try: the runtime sees the tls-terminator's process.
    expect(probe.sidecars.length).toBeGreaterThanOrEqual(1);
    for (const s of probe.sidecars) {
      expect(s.environ).toEqual({ error: 'EACCES' });
      expect(s.key).toEqual({ error: 'EACCES' });
      expect(s.mem).toEqual({ error: 'EACCES' });
    }
    // The volume is not mounted in the runtime at all.
    expect(probe.ownPath).toEqual({ error: 'ENOENT' });
    expect(res.body).not.toContain('PRIVATE KEY');
    expect(res.body).not.toContain(own.key.split('\n')[1]!);
  });

  it('the key is in no container environment of the pod; the sidecar still serves HTTPS with it', async () => {
    const pod = await podOf(p, APP);
    const containers = await docker.listContainers({ all: true, filters: { name: [pod.name] } });
    expect(containers.length).toBeGreaterThanOrEqual(5); // pause, logs, app, tls, procinfo, runtime
    for (const c of containers) {
      const env = (await docker.getContainer(c.Id).inspect()).Config.Env ?? [];
      expect(env.join('\n'), c.Names[0]).not.toContain('PRIVATE KEY');
    }
    const peer = await eventually('an HTTPS handshake with the app', () => handshake());
    expect(peer).toBe(new X509Certificate(own.cert).fingerprint256);
  });
});

describe('while that ran', () => {
  it('the bystander app served every request and the API answered every health check', async () => {
    expectUnharmed(await bystander.stop());
  });
});

/** The fingerprint of the certificate the app's TLS sidecar presents through the router (SNI passthrough). */
function handshake(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port: p.routerTlsPort, servername: `${APP}.localhost`, rejectUnauthorized: false },
      () => {
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
        socket.destroy();
        if (fingerprint) resolve(fingerprint);
        else reject(new Error('no peer certificate'));
      },
    );
    socket.on('error', reject);
  });
}
