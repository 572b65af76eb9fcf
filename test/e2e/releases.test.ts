import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOADER_PORT } from '@sidecar/core';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy, trafficLoop, waitForDeploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { freePort } from '../support/global-setup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { podOf, startupProbeOf } from '../support/pods.js';

// Life after the first deploy: every change rolls out with zero failed requests while traffic
// (GETs and POSTs, four at a time) runs the whole time, and ends serving the expected version.
const docker = new Docker();
let p: RunningPlatform;
/** The platform's embedded Redis, on a port of ours so the secrets test can read what is stored. */
let redisPort = 0;
const APP = 'zd';
const SECRET = 'sEcReT-value-7f3a91';
const code = (v: string) =>
  tgzOf({
    'index.js': `module.exports = (q, s) => s.end('code=${v} env=' + process.env.GREETING + ' secret=' + (process.env.API_KEY === '${SECRET}'));\n`,
  });

const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const newestDeployId = async () =>
  ((await (await p.api$(`/api/v1/apps/${APP}/deploys`)).json()).items[0] as { id: string }).id;

/** Runs `change` under traffic; waits until answers match `serving`; asserts no request failed. */
async function underTraffic(serving: RegExp, change: () => Promise<void>): Promise<void> {
  const traffic = trafficLoop(p, APP, { concurrency: 4 });
  try {
    await traffic.seen(/^code=/, 10);
    await change();
    await traffic.seen(serving, 40);
  } finally {
    await traffic.stop();
  }
  expect(traffic.failures).toEqual([]);
  expect(traffic.bodies.at(-1)).toMatch(serving);
}

beforeAll(async () => {
  redisPort = await freePort();
  // Room for pods to become ready while the whole suite loads the machine (8 s was not always enough for
  // three at once); the never-ready release below waits all of it.
  p = await startPlatform({ SIDECAR_READY_TIMEOUT_MS: '30000', SIDECAR_EMBEDDED_REDIS_PORT: String(redisPort) });
  await createApp(p, APP, { env: { GREETING: 'a' }, secrets: { API_KEY: SECRET } });
  const v1 = await deploy(p, APP, await code('1'));
  if (v1.deploy.status !== 'succeeded') throw new Error(v1.log);
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

describe('zero-downtime changes', () => {
  it('redeploy', async () => {
    await underTraffic(/^code=2 env=a secret=true$/, async () => {
      expect((await deploy(p, APP, await code('2'))).deploy.status).toBe('succeeded');
    });
  });

  it('config change (env), no rebuild', async () => {
    await underTraffic(/^code=2 env=b secret=true$/, async () => {
      expect(
        (await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ env: { GREETING: 'b' } }) })).status,
      ).toBe(200);
      expect((await waitForDeploy(p, APP, await newestDeployId())).deploy.status).toBe('succeeded');
    });
  });

  it('rollback to v1 (its code and its config)', async () => {
    await underTraffic(/^code=1 env=a secret=true$/, async () => {
      const res = await p.api$(`/api/v1/apps/${APP}/rollback`, { method: 'POST', ...json({ version: 1 }) });
      expect(res.status).toBe(202);
      expect((await waitForDeploy(p, APP, ((await res.json()) as { id: string }).id)).deploy.status).toBe('succeeded');
    });
    // The rollback restored v1's config as the app's config.
    expect((await (await p.api$(`/api/v1/apps/${APP}`)).json()).env).toEqual({ GREETING: 'a' });
    // Its release (a copy of v1's record) keeps v1's listening loader: the pod's startup probe is the connect.
    expect(await startupProbeOf((await podOf(p, APP)).name, 'app')).toMatchObject({ tcpSocket: { port: LOADER_PORT } });
  });

  it('rollback to the release just replaced thaws its frozen pods (by default), and back again', async () => {
    type PodInfo = { release: number; suspended?: { reason: string; memoryBytes: number } };
    const pods = async () => ((await (await p.api$(`/api/v1/apps/${APP}/pods`)).json()).items as PodInfo[]) ?? [];
    const releases = async () =>
      ((await (await p.api$(`/api/v1/apps/${APP}/releases`)).json()).items as {
        version: number;
        current: boolean;
      }[]) ?? [];
    const rollback = async (version: number, serving: RegExp) => {
      let log = '';
      await underTraffic(serving, async () => {
        const res = await p.api$(`/api/v1/apps/${APP}/rollback`, { method: 'POST', ...json({ version }) });
        expect(res.status).toBe(202);
        const done = await waitForDeploy(p, APP, ((await res.json()) as { id: string }).id);
        expect(done.deploy.status, done.log).toBe('succeeded');
        log = done.log;
      });
      return log;
    };
    // The last rollout (the rollback to v1) replaced the pods of the config change: they are kept frozen,
    // once drained — after the rollout has succeeded (the next one may begin while they drain) — and their
    // memory measured.
    const [current, replaced] = await releases();
    expect(current!.current).toBe(true);
    let warm: PodInfo[] = [];
    await vi.waitFor(
      async () => {
        warm = (await pods()).filter((x) => x.suspended);
        expect(warm.map((x) => x.suspended!.reason)).toEqual(['warm']);
        // Its memory is measured once it is frozen (null until then).
        expect(warm[0]!.suspended!.memoryBytes).toBeGreaterThan(0);
      },
      { timeout: 30_000, interval: 100 },
    );
    // Back to it: its pod is thawed, not started anew; then back to where we were, the same way.
    expect(await rollback(replaced!.version, /^code=2 env=b secret=true$/)).toMatch(
      /thawed \(kept warm since the last rollout\)/,
    );
    expect(await rollback(current!.version, /^code=1 env=a secret=true$/)).toMatch(
      /thawed \(kept warm since the last rollout\)/,
    );
  }, 120_000);

  it('scale 1 → 3 → 1', async () => {
    const scale = async (replicas: number) => {
      expect((await p.api$(`/api/v1/apps/${APP}`, { method: 'PATCH', ...json({ replicas }) })).status).toBe(200);
      const scaled = await waitForDeploy(p, APP, await newestDeployId());
      expect(scaled.deploy.status, scaled.log).toBe('succeeded');
      const pods = (await (await p.api$(`/api/v1/apps/${APP}/pods`)).json()).items as Array<{
        ready: boolean;
        suspended?: unknown;
      }>;
      // Pods of the replaced release kept frozen for a rollback (docs/architecture.md) do not serve.
      expect(pods.filter((x) => !x.suspended).map((x) => x.ready)).toEqual(Array(replicas).fill(true));
    };
    await underTraffic(/^code=1 env=a secret=true$/, async () => {
      await scale(3);
      await scale(1);
    });
  }, 180_000);

  it('a release that never becomes ready fails the deploy and the previous one keeps serving', async () => {
    await underTraffic(/^code=1 env=a secret=true$/, async () => {
      const bad = await deploy(p, APP, await tgzOf({ 'index.js': "throw new Error('this release cannot load');" }));
      expect(bad.deploy.status).toBe('failed');
      expect(bad.deploy.error?.code).toBe('not_ready');
      expect(bad.deploy.error?.message).toMatch(/this release cannot load/);
    });
    const app = await (await p.api$(`/api/v1/apps/${APP}`)).json();
    expect(app).toMatchObject({ status: 'running' });
  }, 120_000);

  it('runtime upgrade: every app moves to the new runtime image without a rebuild', async () => {
    // A "new" runtime: the same image under a new tag, handed to a restarted platform.
    type Rel = { runtimeImage: string; imageDigest: string; version: number; current: boolean };
    const current = async () =>
      ((await (await p.api$(`/api/v1/apps/${APP}/releases`)).json()).items as Rel[]).find((r) => r.current)!;
    const before = await current();
    const next = `${before.runtimeImage.split(':')[0]}:e2e-next`;
    await docker.getImage(before.runtimeImage).tag({ repo: next.split(':')[0]!, tag: 'e2e-next' });
    const { dataDir, platformId, routerPort } = p;
    await p.stop({ keepData: true });
    p = await startPlatform(
      {
        SIDECAR_READY_TIMEOUT_MS: '30000', // as before the restart: room for pods to start under the suite's load
        SIDECAR_RUNTIME_IMAGE: next,
        SIDECAR_EMBEDDED_REDIS_PORT: String(redisPort),
      },
      { dataDir, platformId, routerPort },
    );
    await underTraffic(/^code=1 env=a secret=true$/, async () => {
      const res = await p.api$('/api/v1/runtime/rollout', { method: 'POST' });
      expect(res.status).toBe(202);
      const { items } = (await res.json()) as { items: Array<{ id: string; app: string }> };
      expect(items.map((d) => d.app)).toEqual([APP]);
      const upgraded = await waitForDeploy(p, APP, items[0]!.id);
      expect(upgraded.deploy.status, upgraded.log).toBe('succeeded');
    });
    const after = await current();
    expect(after.runtimeImage).toBe(next);
    expect(after.imageDigest).toBe(before.imageDigest); // the logic image was not rebuilt
    expect(after.version).toBeGreaterThan(before.version);
    await docker
      .getImage(next)
      .remove()
      .catch(() => undefined);
  }, 180_000);
});

describe('secrets', () => {
  it('never appear in API responses, deploy logs, Docker labels, or Redis in clear text', async () => {
    const seen: string[] = [];
    for (const path of [
      `/api/v1/apps`,
      `/api/v1/apps/${APP}`,
      `/api/v1/apps/${APP}/releases`,
      `/api/v1/apps/${APP}/deploys`,
      `/api/v1/apps/${APP}/pods`,
    ]) {
      seen.push(await (await p.api$(path)).text());
    }
    const deploys = (await (await p.api$(`/api/v1/apps/${APP}/deploys`)).json()).items as Array<{ id: string }>;
    for (const d of deploys) seen.push(await (await p.api$(`/api/v1/apps/${APP}/deploys/${d.id}/logs`)).text());
    expect(seen.join('\n')).toContain('******'); // the masked form is there...
    expect(seen.join('\n')).not.toContain(SECRET); // ...the value is not

    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`sidecar.paas/platform=${p.platformId}`] },
    });
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) expect(JSON.stringify(c.Labels)).not.toContain(SECRET);

    // What Redis holds, read through Redis itself: the app is there, its secret only sealed.
    const redis = new Redis(`redis://127.0.0.1:${redisPort}`);
    try {
      const stored = await redis.get(`sidecar:app:${APP}`);
      expect(stored).toContain(`"name":"${APP}"`);
      expect(stored).toMatch(/"API_KEY":"v2:k1:/); // sealed (store/src/secret-box.ts), with key k1
      expect(stored).not.toContain(SECRET);
    } finally {
      redis.disconnect();
    }
    // What Redis persisted (the AOF, whose base may be an RDB snapshot after a rewrite): no clear text.
    // Only the absence is checked here: an RDB base stores long strings LZF-compressed, so the sealed
    // form need not appear verbatim, while the stored value above shows what Redis would persist.
    const redisDir = join(p.dataDir, 'redis');
    execFileSync('sync');
    const persisted = readdirSync(redisDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(join(e.parentPath, e.name), 'latin1'));
    expect(persisted.length).toBeGreaterThan(0);
    for (const file of persisted) expect(file).not.toContain(SECRET);
  });
});
