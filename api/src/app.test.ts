import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BucketCounts, buildJobId, countRequest } from '@sidecar/core';
import { connectRedis, createStores, FsBlobStore, newTokenSecret, SecretBox, type Stores } from '@sidecar/store';
import { DeployQueues } from '@sidecar/store/queues';
import { createLogger } from '@sidecar/platform-process';
import { createApp } from './app.js';

// The API against a real Redis (started by the global setup), isolated by a key prefix per run.
const prefix = `t-${randomUUID().slice(0, 8)}:`;
const redis = connectRedis(inject('redisUrl'));
const stores: Stores = createStores(redis, prefix, new SecretBox([{ id: 't', key: randomBytes(32) }]));
const queues = new DeployQueues(redis, prefix);
const blobDir = mkdtempSync(join(tmpdir(), 'sidecar-api-test-'));
const admin = newTokenSecret();
// The API's log lines, as JSON objects (the format it uses when not on a terminal).
const logLines: Record<string, unknown>[] = [];
const logger = createLogger('api', {
  format: 'json',
  destination: new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
});
const app = createApp({
  stores,
  queues,
  blobs: new FsBlobStore(blobDir),
  maxBundleBytes: 64 * 1024,
  urlFor: (n) => `http://${n}.localhost:8080/`,
  logger,
});
const auth = { authorization: `Bearer ${admin}` };
const tgzBytes = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

beforeAll(async () => {
  await stores.tokens.ensureAdmin(admin);
});
afterAll(async () => {
  await queues.close();
  await stores.close();
  await redis.quit();
  rmSync(blobDir, { recursive: true, force: true });
});

const expectProblem = (res: request.Response, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
  expect(typeof res.body.detail).toBe('string');
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js:\d+/); // never a stack trace
};

describe('request ids', () => {
  it("keeps a client's well-formed X-Request-Id, replaces a malformed one, and logs each request with its id", async () => {
    const kept = await request(app).get('/api/v1/apps').set(auth).set('X-Request-Id', 'cli-42.a');
    expect(kept.status).toBe(200);
    expect(kept.headers['x-request-id']).toBe('cli-42.a');
    const replaced = await request(app).get('/api/v1/apps').set(auth).set('X-Request-Id', 'bad id\twith spaces');
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const fresh = await request(app).get('/api/v1/apps').set(auth);
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(fresh.headers['x-request-id']).not.toBe(replaced.headers['x-request-id']);
    for (const id of ['cli-42.a', replaced.headers['x-request-id'], fresh.headers['x-request-id']]) {
      const line = logLines.find((l) => l.reqId === id);
      expect(line, `a log line for request ${id}`).toMatchObject({
        name: 'api',
        req: { method: 'GET' },
        msg: expect.stringMatching(/GET \/api\/v1\/apps 200/),
      });
    }
    // Tokens never reach the log.
    expect(JSON.stringify(logLines)).not.toContain(admin);
  });
});

describe('health', () => {
  it('answers /healthz without a token', async () => {
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/readyz is 503 naming the target until a worker reports in, then 200', async () => {
    const down = await request(app).get('/readyz');
    expect(down.status).toBe(503);
    expect(down.body.checks.redis).toBe('ok');
    expect(down.body.checks.target).toMatch(/^down/);
    await stores.platform.beat();
    const up = await request(app).get('/readyz');
    expect(up.status).toBe(200);
    await redis.del(stores.keys.workerHeartbeat);
  });

  it('sends the usual security headers, and a policy that forbids framing the dashboard', async () => {
    const res = await request(app).get('/healthz');
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(res.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('/metrics speaks the Prometheus text format and counts requests', async () => {
    await request(app).get('/healthz');
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/# TYPE sidecar_http_requests_total counter/);
    expect(res.text).toMatch(/sidecar_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
  });
});

describe('auth', () => {
  it('refuses a missing token with 401 unauthorized', async () => {
    expectProblem(await request(app).get('/api/v1/apps'), 401, 'unauthorized');
  });
  it('refuses a wrong token with 401', async () => {
    expectProblem(await request(app).get('/api/v1/apps').set('authorization', 'Bearer nope'), 401, 'unauthorized');
  });
  it('stores tokens only as hashes', async () => {
    const stored = await redis.hkeys(stores.keys.tokens);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored).not.toContain(admin);
    expect(JSON.stringify(await redis.hgetall(stores.keys.tokens))).not.toContain(admin);
  });
  it('hides apps a deployer token may not touch (404, not 403)', async () => {
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'secret-app' }).expect(201);
    const other = newTokenSecret();
    await stores.tokens.put(other, {
      name: 'ci',
      role: 'deployer',
      apps: ['mine'],
      createdAt: new Date().toISOString(),
    });
    expectProblem(
      await request(app).get('/api/v1/apps/secret-app').set('authorization', `Bearer ${other}`),
      404,
      'app_not_found',
    );
    const list = await request(app).get('/api/v1/apps').set('authorization', `Bearer ${other}`);
    expect(list.body.items.map((a: { name: string }) => a.name)).not.toContain('secret-app');
  });
});

describe('tokens', () => {
  it('an admin creates a deployer token limited to some apps; its secret works once shown and is stored hashed', async () => {
    const res = await request(app)
      .post('/api/v1/tokens')
      .set(auth)
      .send({ name: 'ci', apps: ['only-this'] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'ci', role: 'deployer', apps: ['only-this'] });
    const secret = res.body.token as string;
    expect(JSON.stringify(await redis.hgetall(stores.keys.tokens))).not.toContain(secret);
    await request(app)
      .post('/api/v1/apps')
      .set('authorization', `Bearer ${secret}`)
      .send({ name: 'only-this' })
      .expect(201);
    expectProblem(
      await request(app).post('/api/v1/apps').set('authorization', `Bearer ${secret}`).send({ name: 'not-that' }),
      403,
      'forbidden',
    );
    // A deployer cannot mint tokens.
    expectProblem(
      await request(app).post('/api/v1/tokens').set('authorization', `Bearer ${secret}`).send({ name: 'x' }),
      403,
      'forbidden',
    );
  });

  it('needs a deployer token\'s apps spelled out ("*" for all)', async () => {
    const missing = await request(app).post('/api/v1/tokens').set(auth).send({ name: 'vague' });
    expectProblem(missing, 400, 'invalid_request');
    expect(missing.body.detail).toMatch(/apps/);
    const all = await request(app)
      .post('/api/v1/tokens')
      .set(auth)
      .send({ name: 'wide', apps: ['*'] });
    expect(all.status).toBe(201);
    expect(all.body.apps).toBeNull();
    expectProblem(
      await request(app)
        .post('/api/v1/tokens')
        .set(auth)
        .send({ name: 'odd', role: 'admin', apps: ['x'] }),
      400,
      'invalid_request',
    );
  });

  it('an admin lists tokens without their secrets and revokes one, which stops working at once', async () => {
    const created = await request(app)
      .post('/api/v1/tokens')
      .set(auth)
      .send({ name: 'to-revoke', apps: ['*'] });
    const { id, token: secret } = created.body as { id: string; token: string };
    const bearer = { authorization: `Bearer ${secret}` };
    await request(app).get('/api/v1/apps').set(bearer).expect(200);

    const list = await request(app).get('/api/v1/tokens').set(auth).expect(200);
    expect(list.body.items).toContainEqual({
      id,
      name: 'to-revoke',
      role: 'deployer',
      apps: null,
      createdAt: created.body.createdAt,
    });
    expect(list.body.items.map((t: { name: string }) => t.name)).toContain('admin');
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(JSON.stringify(list.body)).not.toContain(admin);
    expectProblem(await request(app).get('/api/v1/tokens').set(bearer), 403, 'forbidden');
    expectProblem(await request(app).delete(`/api/v1/tokens/${id}`).set(bearer), 403, 'forbidden');

    await request(app).delete(`/api/v1/tokens/${id}`).set(auth).expect(204);
    expectProblem(await request(app).get('/api/v1/apps').set(bearer), 401, 'unauthorized');
    expect(
      (await request(app).get('/api/v1/tokens').set(auth)).body.items.map((t: { id: string }) => t.id),
    ).not.toContain(id);
    expectProblem(await request(app).delete(`/api/v1/tokens/${id}`).set(auth), 404, 'token_not_found');
    expectProblem(await request(app).delete('/api/v1/tokens/not-an-id').set(auth), 404, 'token_not_found');
  });

  it("a revoked token's open log follow is closed", async () => {
    const quick = createApp({
      stores,
      queues,
      blobs: new FsBlobStore(blobDir),
      maxBundleBytes: 64 * 1024,
      urlFor: (n) => `http://${n}.localhost:8080/`,
      tokenRecheckMs: 100,
    });
    const server = quick.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
      await request(app).post('/api/v1/apps').set(auth).send({ name: 'followed' }).expect(201);
      const { id, token } = (
        await request(app)
          .post('/api/v1/tokens')
          .set(auth)
          .send({ name: 'watcher', apps: ['followed'] })
      ).body as { id: string; token: string };
      const res = await fetch(`${base}/apps/followed/logs?follow=true`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      const ended = (async () => {
        const reader = res.body!.getReader();
        for (;;) if ((await reader.read()).done) return 'ended';
      })().catch(() => 'ended');
      // Still open while the token is valid: a second follower with the same token is accepted too.
      expect(
        (await fetch(`${base}/apps/followed/logs`, { headers: { authorization: `Bearer ${token}` } })).status,
      ).toBe(200);
      await request(app).delete(`/api/v1/tokens/${id}`).set(auth).expect(204);
      expect(await ended).toBe('ended');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('will not revoke the token a request is made with', async () => {
    const own = (await request(app).get('/api/v1/tokens').set(auth)).body.items.find(
      (t: { name: string }) => t.name === 'admin',
    ).id as string;
    expectProblem(await request(app).delete(`/api/v1/tokens/${own}`).set(auth), 409, 'token_in_use');
    await request(app).get('/api/v1/apps').set(auth).expect(200);
  });

  it('refuses a malformed token request naming the field', async () => {
    const res = await request(app).post('/api/v1/tokens').set(auth).send({ name: 'x', role: 'root' });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.detail).toMatch(/role/);
  });
});

describe('apps', () => {
  it('creates an app with defaults and the documented shape', async () => {
    const res = await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: 'hello', env: { GREETING: 'hi' }, secrets: { DB_PASSWORD: 's3cret' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'hello',
      runtime: 'node',
      env: { GREETING: 'hi' },
      secrets: { DB_PASSWORD: '******' },
      replicas: 1,
      resources: { memory: '256Mi', cpu: '500m' },
      url: 'http://hello.localhost:8080/',
      currentRelease: null,
      status: 'new',
    });
    expect(JSON.stringify(res.body)).not.toContain('s3cret');
  });

  it('makes a new app known to the routers, with no pod in rotation, whether or not it scales to zero', async () => {
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'routed' }).expect(201);
    await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: 'sleepy', scaleToZero: { enabled: true, idleSeconds: 60 } })
      .expect(201);
    const { routes } = await stores.routes.all();
    expect(routes.get('routed')).toEqual([]);
    expect(routes.get('sleepy')).toEqual([]);
  });

  it('refuses a duplicate with 409 app_exists', async () => {
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'dup' }).expect(201);
    expectProblem(await request(app).post('/api/v1/apps').set(auth).send({ name: 'dup' }), 409, 'app_exists');
  });

  it.each(['Hello', '-x', 'x-', 'a_b', 'a'.repeat(31), '', '9lives'])(
    'refuses the name %j with 400 invalid_name',
    async (name) => {
      expectProblem(await request(app).post('/api/v1/apps').set(auth).send({ name }), 400, 'invalid_name');
    },
  );

  it('refuses unknown fields and bad values naming the field', async () => {
    const res = await request(app).post('/api/v1/apps').set(auth).send({ name: 'fields', replicas: -1 });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.detail).toMatch(/replicas/);
    expectProblem(
      await request(app)
        .post('/api/v1/apps')
        .set(auth)
        .send({ name: 'fields', resources: { memory: '64Mi' } }),
      400,
      'invalid_request',
    );
  });

  it('takes network.egress (internet by default, or none), keeps it across a PATCH that does not name it, refuses others', async () => {
    const created = await request(app).post('/api/v1/apps').set(auth).send({ name: 'egress' }).expect(201);
    expect(created.body.network).toEqual({ egress: 'internet' });
    const closed = await request(app)
      .patch('/api/v1/apps/egress')
      .set(auth)
      .send({ network: { egress: 'none' } })
      .expect(200);
    expect(closed.body.network).toEqual({ egress: 'none' });
    const later = await request(app).patch('/api/v1/apps/egress').set(auth).send({ replicas: 2 }).expect(200);
    expect(later.body.network).toEqual({ egress: 'none' });
    const res = await request(app)
      .patch('/api/v1/apps/egress')
      .set(auth)
      .send({ network: { egress: 'intranet' } });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.detail).toMatch(/network\.egress/);
  });

  it('refuses malformed JSON with a 400, not a 500', async () => {
    const res = await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .set('content-type', 'application/json')
      .send('{"name": ');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_json');
  });

  it('keeps the router settings: defaults shown, a PATCH of one keeps the others, bounds refused', async () => {
    const created = await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: 'edge', http: { maxBodyMiB: 5 } });
    expect(created.body.http).toEqual({ drainSeconds: 30, timeoutSeconds: 60, maxBodyMiB: 5, maxConcurrent: 1000 });
    const patched = await request(app)
      .patch('/api/v1/apps/edge')
      .set(auth)
      .send({ http: { timeoutSeconds: 5 } })
      .expect(200);
    expect(patched.body.http).toEqual({ drainSeconds: 30, timeoutSeconds: 5, maxBodyMiB: 5, maxConcurrent: 1000 });
    const res = await request(app)
      .patch('/api/v1/apps/edge')
      .set(auth)
      .send({ http: { maxConcurrent: 0 } });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.detail).toMatch(/http\.maxConcurrent/);
    expectProblem(
      await request(app)
        .patch('/api/v1/apps/edge')
        .set(auth)
        .send({ http: { retries: 3 } }),
      400,
      'invalid_request',
    );
  });

  it("answers an app's traffic metrics from the routers' 10-second buckets", async () => {
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'busy' }).expect(201);
    const bucket = Math.floor(Date.now() / 10_000) * 10;
    const counts: BucketCounts = {};
    countRequest(counts, { status: 200, durationMs: 3, bytesIn: 100, bytesOut: 200 });
    countRequest(counts, { status: 502, durationMs: 40, bytesIn: 100, bytesOut: 150 });
    await stores.appTraffic.add(new Map([['busy', new Map([[bucket - 30, counts]])]]));
    const res = await request(app).get('/api/v1/apps/busy/metrics?minutes=5').set(auth).expect(200);
    expect(res.body.requests).toEqual({ total: 2, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 1 });
    expect(res.body.latencyMs).toEqual({ p50: 3, p95: 50, p99: 50 });
    expect(res.body.series).toHaveLength(30);
    expect(res.body.series.find((p: { requests: number }) => p.requests > 0)).toMatchObject({
      time: new Date((bucket - 30) * 1000).toISOString(),
      requests: 2,
      errors: 1,
    });
    expectProblem(await request(app).get('/api/v1/apps/busy/metrics?minutes=0').set(auth), 400, 'invalid_request');
  });

  it('lists, gets, patches (null removes a key) and deletes', async () => {
    await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: 'crud', env: { A: '1', B: '2' } })
      .expect(201);
    const list = await request(app).get('/api/v1/apps').set(auth).expect(200);
    expect(list.body.items.map((a: { name: string }) => a.name)).toContain('crud');
    const patched = await request(app)
      .patch('/api/v1/apps/crud')
      .set(auth)
      .send({ env: { A: null, C: '3' }, replicas: 2 })
      .expect(200);
    expect(patched.body.env).toEqual({ B: '2', C: '3' });
    expect(patched.body.replicas).toBe(2);
    await request(app).delete('/api/v1/apps/crud').set(auth).expect(204);
    expectProblem(await request(app).get('/api/v1/apps/crud').set(auth), 404, 'app_not_found');
  });

  it('answers an unknown app with 404 app_not_found and an unknown endpoint with 404', async () => {
    expectProblem(await request(app).get('/api/v1/apps/nope').set(auth), 404, 'app_not_found');
    expectProblem(await request(app).get('/api/v1/nothing-here').set(auth), 404, 'not_found');
  });
});

describe('deploys', () => {
  beforeAll(async () => {
    await request(app).post('/api/v1/apps').set(auth).send({ name: 'web' }).expect(201);
  });

  it('accepts a tar.gz with 202, records a queued deploy and enqueues its build under a derived job id', async () => {
    const res = await request(app)
      .post('/api/v1/apps/web/deploys')
      .set(auth)
      .set('content-type', 'application/gzip')
      .send(tgzBytes);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ app: 'web', status: 'queued', source: 'api', release: null, error: null });
    const job = await queues.build.getJob(buildJobId(res.body.id));
    expect(job?.data).toEqual({ deployId: res.body.id, app: 'web' });
    const got = await request(app).get(`/api/v1/apps/web/deploys/${res.body.id}`).set(auth).expect(200);
    expect(got.body.id).toBe(res.body.id);
    const log = await request(app).get(`/api/v1/apps/web/deploys/${res.body.id}/logs`).set(auth).expect(200);
    expect(log.headers['content-type']).toMatch(/text\/plain/);
    expect(log.text).toMatch(/received 20 bytes/);
  });

  it('newest wins: a second upload cancels the first while it is still queued', async () => {
    const first = await request(app)
      .post('/api/v1/apps/web/deploys')
      .set(auth)
      .set('content-type', 'application/gzip')
      .send(tgzBytes)
      .expect(202);
    const second = await request(app)
      .post('/api/v1/apps/web/deploys')
      .set(auth)
      .set('content-type', 'application/gzip')
      .send(tgzBytes)
      .expect(202);
    const a = await request(app).get(`/api/v1/apps/web/deploys/${first.body.id}`).set(auth);
    expect(a.body.status).toBe('cancelled');
    expect(a.body.error.message).toMatch(/superseded/);
    const list = await request(app).get('/api/v1/apps/web/deploys').set(auth);
    expect(list.body.items[0].id).toBe(second.body.id); // newest first
  });

  it('cancels a queued deploy', async () => {
    const d = await request(app)
      .post('/api/v1/apps/web/deploys')
      .set(auth)
      .set('content-type', 'application/gzip')
      .send(tgzBytes)
      .expect(202);
    const res = await request(app).post(`/api/v1/apps/web/deploys/${d.body.id}/cancel`).set(auth);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('cancelled');
    expect(await queues.build.getJob(buildJobId(d.body.id))).toBeUndefined();
  });

  it('refuses a wrong content type with 415, an oversized body with 413, an empty body with 400', async () => {
    expectProblem(
      await request(app).post('/api/v1/apps/web/deploys').set(auth).set('content-type', 'text/plain').send('hi'),
      415,
      'unsupported_media_type',
    );
    expectProblem(
      await request(app)
        .post('/api/v1/apps/web/deploys')
        .set(auth)
        .set('content-type', 'application/gzip')
        .send(Buffer.alloc(65 * 1024)),
      413,
      'bundle_too_large',
    );
    expectProblem(
      await request(app)
        .post('/api/v1/apps/web/deploys')
        .set(auth)
        .set('content-type', 'application/zip')
        .send(Buffer.alloc(0)),
      400,
      'bundle_invalid',
    );
  });

  it('follows a log until the deploy ends, as text and as server-sent events', async () => {
    const d = await request(app)
      .post('/api/v1/apps/web/deploys')
      .set(auth)
      .set('content-type', 'application/gzip')
      .send(tgzBytes)
      .expect(202);
    const follow = request(app).get(`/api/v1/apps/web/deploys/${d.body.id}/logs?follow=true`).set(auth);
    const sse = request(app)
      .get(`/api/v1/apps/web/deploys/${d.body.id}/logs`)
      .set(auth)
      .set('accept', 'text/event-stream')
      .buffer(true)
      .parse((res, cb) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => cb(null, text));
      });
    const pending = Promise.all([follow, sse]);
    await stores.deployLog.append(d.body.id, 'build: step one');
    await stores.deploys.update(d.body.id, () => ({
      status: 'failed',
      finishedAt: new Date().toISOString(),
      error: { code: 'build_failed', message: 'x' },
    }));
    const [text, events] = await pending;
    expect(text.text).toMatch(/received[\s\S]*build: step one/);
    expect(events.headers['content-type']).toMatch(/text\/event-stream/);
    expect(events.body).toMatch(/event: line\ndata: "build: step one"/);
    expect(events.body).toMatch(/event: end\ndata: \{"status":"failed"\}/);
  });
});
