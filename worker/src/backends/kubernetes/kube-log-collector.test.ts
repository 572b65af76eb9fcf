import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { KubeLogCollector, utcTime } from './kube-log-collector.js';
import { MAX_LINE_BYTES } from '../docker/log-lines.js';
import { FakePodLogs, podObject } from './fake-pod-logs.js';
import { FakeApiServer } from './test-support.js';

// Contract tests: the collector against a fake API server (pods in its object store, logs
// from FakePodLogs; not a cluster), storing into the real Redis of the global setup.
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'k', key: randomBytes(32) }]),
);
afterAll(async () => {
  await stores.close();
  await redis.quit();
});

const NS = 'apps';
const PLATFORM = 'klogs';
const WAIT = { timeout: 15_000, interval: 50 };
let api: FakeApiServer;
let logs: FakePodLogs;
let collectors: KubeLogCollector[] = [];

beforeEach(async () => {
  api = new FakeApiServer();
  await api.start();
  logs = new FakePodLogs(api);
});
afterEach(async () => {
  await Promise.all(collectors.map((c) => c.close()));
  collectors = [];
  await api.close();
});

function collector(): KubeLogCollector {
  const c = new KubeLogCollector({
    kubeConfig: api.kubeConfig(),
    namespace: NS,
    stores,
    platformId: PLATFORM,
    intervalMs: 50,
    flushMs: 20,
    retryMs: 100,
  });
  collectors.push(c);
  c.start();
  return c;
}

/** A pod of this platform with the logic as a native sidecar and the runtime as main container. */
function putPod(
  app: string,
  name: string,
  over: { platformId?: string; release?: number; init?: string[] } = {},
): string {
  const path = `/api/v1/namespaces/${NS}/pods/${name}`;
  api.put(
    path,
    podObject({
      ns: NS,
      name,
      platformId: over.platformId ?? PLATFORM,
      app,
      release: over.release ?? 1,
      init: over.init ?? ['app'],
      containers: ['runtime'],
    }),
  );
  return path;
}

const stored = async (app: string) =>
  (await stores.appLogs.tail(app, { n: 1000 })).map(({ pod, container, release, stream, line }) => ({
    pod,
    container,
    release,
    stream,
    line,
  }));
const lineTexts = async (app: string) => (await stored(app)).map((l) => l.line);

describe('KubeLogCollector (against a fake API server)', () => {
  it('stores the lines of every running container of a pod, native sidecar and main, with pod, container and release; then follows new ones', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    putPod(app, `${app}-7d9f-x1`, { release: 3 });
    logs.write(NS, `${app}-7d9f-x1`, 'app', 'logic ready');
    logs.write(NS, `${app}-7d9f-x1`, 'runtime', 'listening on 8080');
    collector();
    const meta = { pod: `${app}-7d9f-x1`, release: '3', stream: 'stdout' };
    await expect
      .poll(async () => (await stored(app)).sort((a, b) => a.container.localeCompare(b.container)), WAIT)
      .toEqual([
        { ...meta, container: 'app', line: 'logic ready' },
        { ...meta, container: 'runtime', line: 'listening on 8080' },
      ]);
    logs.write(NS, `${app}-7d9f-x1`, 'runtime', 'GET / 200');
    logs.write(NS, `${app}-7d9f-x1`, 'runtime', 'x'.repeat(MAX_LINE_BYTES * 2));
    await expect.poll(async () => (await stored(app)).length, WAIT).toBe(4);
    const [, , live, long] = await stored(app);
    expect(live).toEqual({ ...meta, container: 'runtime', line: 'GET / 200' });
    expect(long!.line.endsWith('…')).toBe(true);
    expect(long!.line.length).toBeLessThanOrEqual(MAX_LINE_BYTES + 1);
    for (const r of api.sent('GET', /\/pods\/[^/]+\/log$/))
      expect(r.query).toMatchObject({ follow: 'true', timestamps: 'true' });
  });

  it("stores the log shipper's lines as the lines of the app's files, as on Docker", async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-7d9f-s1`;
    putPod(app, pod, { init: ['logs', 'app'] });
    logs.write(
      NS,
      pod,
      'logs',
      JSON.stringify({ file: 'app.log', line: 'order 42 paid', ts: '2026-11-27T19:00:00.5Z' }),
    );
    collector();
    await expect
      .poll(() => stored(app), WAIT)
      .toContainEqual({ pod, container: 'runtime', release: '1', stream: 'file', line: 'order 42 paid' });
    const [entry] = await stores.appLogs.tail(app, { n: 10 });
    expect(entry).toMatchObject({ file: 'app.log', time: '2026-11-27T19:00:00.500000000Z' });
  });

  it('a restarted collector resumes after its cursor: no line is stored twice', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-1`;
    putPod(app, pod);
    logs.write(NS, pod, 'runtime', 'one');
    logs.write(NS, pod, 'runtime', 'two');
    const first = collector();
    await expect.poll(() => lineTexts(app), WAIT).toEqual(['one', 'two']);
    await first.close();
    logs.write(NS, pod, 'runtime', 'three');
    collector();
    // The new follow starts at the cursor's whole second, so "two" (at least) is sent again and must be skipped.
    await expect.poll(() => lineTexts(app), WAIT).toEqual(['one', 'two', 'three']);
    const resumed = api
      .sent('GET', `/api/v1/namespaces/${NS}/pods/${pod}/log`)
      .filter((r) => r.query.container === 'runtime')
      .at(-1);
    expect(resumed?.query.sinceTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("ignores another platform's pods in the same namespace", async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    putPod(app, `${app}-theirs`, { platformId: 'other-platform' });
    logs.write(NS, `${app}-theirs`, 'runtime', 'not ours');
    putPod(app, `${app}-ours`);
    logs.write(NS, `${app}-ours`, 'runtime', 'ours');
    collector();
    await expect.poll(() => lineTexts(app), WAIT).toEqual(['ours']);
    expect(api.sent('GET', `/api/v1/namespaces/${NS}/pods/${app}-theirs/log`)).toEqual([]);
    expect(api.sent('GET', `/api/v1/namespaces/${NS}/pods`)[0]?.query.labelSelector).toContain(`=${PLATFORM}`);
  });

  it('follows a container again after it restarts, and stops following a pod that goes', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-1`;
    const path = putPod(app, pod);
    logs.write(NS, pod, 'runtime', 'before the restart');
    collector();
    await expect.poll(() => lineTexts(app), WAIT).toEqual(['before the restart']);
    logs.restart(NS, pod, 'runtime'); // its follow ends, as when a container exits
    logs.write(NS, pod, 'runtime', 'after the restart');
    await expect.poll(() => lineTexts(app), WAIT).toEqual(['before the restart', 'after the restart']);
    await expect.poll(() => logs.follows(NS, pod, 'app'), WAIT).toBe(1);
    api.drop(path);
    await expect.poll(() => logs.follows(NS, pod, 'app') + logs.follows(NS, pod, 'runtime'), WAIT).toBe(0);
  });

  it('retries a follow the API server refused', async () => {
    const app = `a${randomUUID().slice(0, 8)}`;
    const pod = `${app}-1`;
    putPod(app, pod);
    logs.failNext(NS, pod, 'runtime', 2);
    logs.write(NS, pod, 'runtime', 'eventually');
    collector();
    await expect.poll(() => lineTexts(app), WAIT).toEqual(['eventually']);
    expect(
      api.sent('GET', `/api/v1/namespaces/${NS}/pods/${pod}/log`).filter((r) => r.query.container === 'runtime'),
    ).toHaveLength(3);
  });
});

describe('utcTime', () => {
  it("turns the kubelet's times (any offset, trailing zeros dropped) into UTC with nine digits", () => {
    expect(utcTime('2026-11-27T19:20:34.5Z')).toBe('2026-11-27T19:20:34.500000000Z');
    expect(utcTime('2026-11-27T19:20:34Z')).toBe('2026-11-27T19:20:34.000000000Z');
    expect(utcTime('2026-11-27T20:20:34.123456789+01:00')).toBe('2026-11-27T19:20:34.123456789Z');
    expect(utcTime('2026-11-27T23:50:00.1-05:00')).toBe('2026-11-28T04:50:00.100000000Z');
    expect(utcTime('not-a-time')).toBe('');
  });
});
