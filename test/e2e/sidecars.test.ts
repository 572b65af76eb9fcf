import { X509Certificate } from 'node:crypto';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { selfSigned } from '../support/certs.js';
import { createApp, deploy, trafficLoop } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { routerHttpsGet, type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually, podOf as podOfApp } from '../support/pods.js';

// Platform sidecars attached by app settings (docs/sidecars.md): a plain HTTP app gains
// HTTPS through the TLS sidecar, procinfo lists its processes, and a crashed sidecar
// restarts alone while the app keeps serving.
const docker = new Docker();
let p: RunningPlatform;
beforeAll(async () => {
  p = await startPlatform();
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

const APP = 'secure';
const plainHttpApp = tgzOf({
  'sidecar.json': JSON.stringify({ start: 'node server.js' }),
  'server.js':
    "require('http').createServer((req, res) => res.end('plain app ' + req.method)).listen(process.env.PORT);\n",
});

/** GET over HTTPS through the router's TLS port, trusting only the platform CA. */
const httpsGet = (ca: string) => routerHttpsGet(p.routerTlsPort, APP, ca);

const podOf = (app: string) => podOfApp(p, app);

describe('platform sidecars', () => {
  let ca = '';

  beforeAll(async () => {
    await createApp(p, APP);
    const first = await deploy(p, APP, await plainHttpApp);
    expect(first.deploy.status, first.log).toBe('succeeded');
    // Settings change → a new release of the same image, now with the sidecars.
    const patched = await p.api$(`/api/v1/apps/${APP}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sidecars: { tls: { enabled: true }, procinfo: true } }),
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    // Done when its deploy has succeeded: release 2 serves and the release-1 pod has stopped.
    await eventually(
      'release 2 rolled out',
      async () => {
        const { items } = (await (await p.api$(`/api/v1/apps/${APP}/deploys`)).json()) as {
          items: Array<{ release: number | null; status: string }>;
        };
        return items.some((d) => d.release === 2 && d.status === 'succeeded') ? true : undefined;
      },
      60_000,
    );
    const caRes = await p.api$('/api/v1/ca.pem');
    expect(caRes.status).toBe(200);
    ca = await caRes.text();
  }, 120_000);

  it('serves the CA certificate (auth required), a CA that signs nothing else', async () => {
    expect(new X509Certificate(ca).ca).toBe(true);
    expect((await fetch(`${p.api}/api/v1/ca.pem`)).status).toBe(401);
  });

  it('puts the sidecars in the pod in the fixed order: the log shipper (on by default) first, tls and procinfo after the logic sidecar', async () => {
    const pod = await podOf(APP);
    expect(pod.initContainerStatuses.map((s) => s.name)).toEqual(['logs', 'app', 'tls', 'procinfo']);
    expect(pod.containerStatuses.map((s) => s.name)).toEqual(['runtime']);
  });

  it('answers a plain-HTTP app over HTTPS with a certificate for <app>.localhost that verifies against the CA, and still over HTTP', async () => {
    const res = await eventually('an HTTPS answer', () => httpsGet(ca));
    expect(res).toMatchObject({ status: 200, body: 'plain app GET' });
    expect(res.peer).toContain(`DNS:${APP}.localhost`);
    expect(await p.get(APP)).toEqual({ status: 200, body: 'plain app GET' });
  });

  it('refuses an HTTPS client that does not trust the platform CA', async () => {
    await expect(httpsGet('')).rejects.toThrow();
  });

  it("lists the runtime container's processes with CPU and memory", async () => {
    const pod = await podOf(APP);
    const items = await eventually('a process list', async () => {
      const res = await p.api$(`/api/v1/apps/${APP}/pods/${pod.name}/processes`);
      const body = (await res.json()) as {
        items: Array<{ pid: number; command: string; cpuPercent: number; memoryBytes: number }>;
      };
      return body.items.some((i) => i.command.includes('server.js')) ? body.items : undefined;
    });
    const node = items.find((i) => i.command.includes('node server.js'))!;
    expect(node.pid).toBeGreaterThan(0);
    expect(node.memoryBytes).toBeGreaterThan(1024 * 1024);
    expect(node.cpuPercent).toBeGreaterThanOrEqual(0);
    // Only the runtime's processes: not the TLS terminator's node, not procinfo's shell.
    expect(items.some((i) => i.command.includes('tls-terminator'))).toBe(false);
    expect((await p.api$(`/api/v1/apps/${APP}/pods/nope/processes`)).status).toBe(404);
  });

  it('restarts only a killed TLS sidecar; plain HTTP keeps serving throughout and HTTPS comes back', async () => {
    const before = await podOf(APP);
    const traffic = trafficLoop(p, APP, { concurrency: 4, maxMs: 60_000 });
    await traffic.seen(/plain app/, 20);
    await docker.getContainer(`${before.name}-tls`).kill();
    const after = await eventually('the tls sidecar restarted and ready', async () => {
      const pod = await podOf(APP);
      const tls = pod.initContainerStatuses.find((s) => s.name === 'tls')!;
      return tls.restartCount >= 1 && tls.ready ? pod : undefined;
    });
    await traffic.seen(/plain app/, 20);
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
    expect(after.name).toBe(before.name);
    expect(after.containerStatuses[0]!.restartCount).toBe(0);
    expect(after.initContainerStatuses.find((s) => s.name === 'app')!.restartCount).toBe(0);
    expect(await eventually('HTTPS again', () => httpsGet(ca))).toMatchObject({ status: 200, body: 'plain app GET' });
  }, 90_000);

  it('keeps a user-supplied private key out of the API', async () => {
    // A certificate and key of the user's own (not the platform CA's), given when creating an app.
    const { cert, key } = selfSigned('keyed.localhost');
    const created = await p.api$('/api/v1/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'keyed', sidecars: { tls: { enabled: true, cert, key } } }),
    });
    expect(created.status).toBe(201);
    const texts = [
      await created.text(),
      await (await p.api$('/api/v1/apps/keyed')).text(),
      await (await p.api$('/api/v1/apps')).text(),
      await (
        await p.api$('/api/v1/apps/keyed', {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sidecars: { tls: { enabled: true, cert, key } } }),
        })
      ).text(),
    ];
    for (const text of texts) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(key.split('\n')[1]!); // not even a line of it
    }
    // The certificate is public and shown; the key is masked, like a secret.
    const app = JSON.parse(texts[1]!) as { sidecars: { tls: Record<string, unknown> } };
    expect(app.sidecars.tls).toEqual({ enabled: true, cert, key: '******' });
  });
});
