import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  connectRedis,
  createStores,
  FsBlobStore,
  newTokenSecret,
  PlatformCa,
  SecretBox,
  type Stores,
} from '@sidecar/store';
import { DeployQueues } from '@sidecar/store/queues';
import { createApp } from './app.js';

// Sidecar settings, the CA endpoint and procinfo's process lists, against a real Redis.
const prefix = `t-${randomUUID().slice(0, 8)}:`;
const redis = connectRedis(inject('redisUrl'));
const stores: Stores = createStores(redis, prefix, new SecretBox([{ id: 't', key: randomBytes(32) }]));
const queues = new DeployQueues(redis, prefix);
const dir = mkdtempSync(join(tmpdir(), 'sidecar-api-sidecars-'));
const admin = newTokenSecret();
const auth = { authorization: `Bearer ${admin}` };
let ca: PlatformCa;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  await stores.tokens.ensureAdmin(admin);
  ca = await PlatformCa.load(dir);
  app = createApp({
    stores,
    queues,
    blobs: new FsBlobStore(join(dir, 'bundles')),
    maxBundleBytes: 64 * 1024,
    urlFor: (n) => `http://${n}.localhost:8080/`,
    caCertPem: ca.certPem,
  });
});
afterAll(async () => {
  await queues.close();
  await stores.close();
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

describe('sidecars settings', () => {
  it('stores a user certificate, never returns its key, and keeps the pair when only `enabled` changes', async () => {
    const own = await ca.issue('mine.localhost');
    const created = await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: 'mine', sidecars: { tls: { enabled: true, ...own }, procinfo: true } })
      .expect(201);
    expect(created.body.sidecars).toEqual({
      logs: true,
      procinfo: true,
      tls: { enabled: true, cert: own.cert, key: '******' },
    });
    expect(JSON.stringify(created.body)).not.toContain('PRIVATE KEY');
    // Sealed at rest like secrets.
    expect(await redis.get(stores.keys.app('mine'))).not.toContain('PRIVATE KEY');
    const patched = await request(app)
      .patch('/api/v1/apps/mine')
      .set(auth)
      .send({ sidecars: { tls: { enabled: false } } })
      .expect(200);
    expect(patched.body.sidecars.tls).toEqual({ enabled: false, cert: own.cert, key: '******' });
    expect((await stores.apps.get('mine')).sidecars.tls.key).toBe(own.key);
  });

  it('refuses a cert without a key, non-PEM values and unknown sidecar fields', async () => {
    const { cert } = await ca.issue('x.localhost');
    for (const tls of [
      { enabled: true, cert },
      { enabled: true, cert: 'nope', key: 'nope' },
      { enabled: true, port: 1 },
    ]) {
      const res = await request(app).post('/api/v1/apps').set(auth).send({ name: 'badtls', sidecars: { tls } });
      expect(res.status).toBe(400);
      expect(res.body.detail).toMatch(/sidecars\.tls/);
    }
  });
});

describe('the logs sidecar setting', () => {
  it('is on by default and switches off and on by PATCH', async () => {
    const created = await request(app).post('/api/v1/apps').set(auth).send({ name: 'shipped' }).expect(201);
    expect(created.body.sidecars.logs).toBe(true);
    const off = await request(app)
      .patch('/api/v1/apps/shipped')
      .set(auth)
      .send({ sidecars: { logs: false } })
      .expect(200);
    expect(off.body.sidecars).toEqual({ logs: false, procinfo: false, tls: { enabled: false } });
    const on = await request(app)
      .patch('/api/v1/apps/shipped')
      .set(auth)
      .send({ sidecars: { logs: true } })
      .expect(200);
    expect(on.body.sidecars.logs).toBe(true);
  });
});

describe('GET /api/v1/apps/:app/logs', () => {
  it('names the file of a line the log shipper read from /var/log/app', async () => {
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'filelogs' }).expect(201);
    const base = {
      time: '2026-11-27T19:00:00.000000000Z',
      pod: 'filelogs-v1-abcde',
      container: 'runtime',
      release: '1',
    };
    await stores.appLogs.append('filelogs', [
      { ...base, stream: 'stdout', line: 'listening' },
      { ...base, stream: 'file', file: 'app.log', line: 'GET / 200' },
      { ...base, container: 'logs', stream: 'stderr', line: 'log-shipper: following /var/log/app' },
    ]);
    const text = await request(app).get('/api/v1/apps/filelogs/logs?container=runtime').set(auth).expect(200);
    expect(text.text).toBe(
      `${base.time} filelogs-v1-abcde/runtime listening\n${base.time} filelogs-v1-abcde/runtime/app.log GET / 200\n`,
    );
    const json = await request(app)
      .get('/api/v1/apps/filelogs/logs?container=runtime')
      .set(auth)
      .set('accept', 'application/json')
      .expect(200);
    expect(json.body.items[1]).toMatchObject({ stream: 'file', file: 'app.log', line: 'GET / 200' });
    expect(json.body.items[0].file).toBeUndefined();
  });
});

describe('GET /api/v1/ca.pem', () => {
  it('returns the platform CA certificate to a token holder only', async () => {
    const res = await request(app).get('/api/v1/ca.pem').set(auth).expect(200);
    expect(res.text).toBe(ca.certPem);
    expect(res.headers['content-type']).toMatch(/application\/x-pem-file/);
    await request(app).get('/api/v1/ca.pem').expect(401);
  });
});

describe('GET /apps/:app/pods/:pod/processes', () => {
  it('returns the snapshot the worker published, 404 for an unknown pod, 400 when procinfo is off', async () => {
    await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: 'procs', sidecars: { procinfo: true } })
      .expect(201);
    await stores.pods.put('procs', {
      name: 'procs-v1-abcde',
      release: 1,
      phase: 'Running',
      ready: true,
      conditions: [],
      initContainerStatuses: [],
      containerStatuses: [],
      events: [],
    });
    const empty = await request(app).get('/api/v1/apps/procs/pods/procs-v1-abcde/processes').set(auth).expect(200);
    expect(empty.body).toEqual({ items: [], time: null });
    const items = [{ pid: 7, command: 'node server.js', cpuPercent: 1.5, memoryBytes: 40_000_000 }];
    await stores.processes.put('procs', { pod: 'procs-v1-abcde', time: '2026-01-01T00:00:00.000Z', items });
    const res = await request(app).get('/api/v1/apps/procs/pods/procs-v1-abcde/processes').set(auth).expect(200);
    expect(res.body).toEqual({ items, time: '2026-01-01T00:00:00.000Z' });
    expect((await request(app).get('/api/v1/apps/procs/pods/other/processes').set(auth)).status).toBe(404);
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'noprocs' }).expect(201);
    expect((await request(app).get('/api/v1/apps/noprocs/pods/x/processes').set(auth)).status).toBe(400);
  });
});
