import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_LIMITS } from '@sidecar/core';
import { apiHarness } from './test-support.js';

// Tenant limits at the API (real Redis): each request past one is a problem+json naming the limit and its setting.
const limits = { ...DEFAULT_TENANT_LIMITS, maxAppsPerToken: 2, maxJobsPerApp: 2, maxVars: 5 };
const h = apiHarness({ limits });
const { app, stores, auth } = h;
beforeAll(() => h.start());
afterAll(() => h.close());

const expectProblem = (res: request.Response, status: number, code: string, detail: RegExp) => {
  expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
  expect(res.body.detail).toMatch(detail);
};
const name = () => `l-${randomUUID().slice(0, 8)}`;

describe('compute limits', () => {
  it('a 1000Gi memory request is 422 limit_exceeded naming SIDECAR_MAX_MEMORY; so is one via PATCH', async () => {
    const res = await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: name(), resources: { memory: '1000Gi' } });
    expectProblem(
      res,
      422,
      'limit_exceeded',
      /1000Gi is more than the 2Gi a container may have \(SIDECAR_MAX_MEMORY\)/,
    );
    const n = name();
    await request(app).post('/api/v1/apps').set(auth).send({ name: n }).expect(201);
    const patch = await request(app)
      .patch(`/api/v1/apps/${n}`)
      .set(auth)
      .send({ resources: { cpu: '64' }, replicas: 3 });
    expectProblem(patch, 422, 'limit_exceeded', /SIDECAR_MAX_CPU/);
    // Nothing of a refused PATCH was stored.
    expect((await request(app).get(`/api/v1/apps/${n}`).set(auth)).body).toMatchObject({
      replicas: 1,
      resources: { cpu: '500m' },
    });
    const replicas = await request(app).patch(`/api/v1/apps/${n}`).set(auth).send({ replicas: 11 });
    expectProblem(replicas, 422, 'limit_exceeded', /SIDECAR_MAX_REPLICAS/);
  });

  it('env and secrets past their count are 422; removing variables is always allowed', async () => {
    const n = name();
    const env = { A: '1', B: '2', C: '3' };
    await request(app).post('/api/v1/apps').set(auth).send({ name: n, env }).expect(201);
    const more = await request(app)
      .patch(`/api/v1/apps/${n}`)
      .set(auth)
      .send({ secrets: { S1: 'x', S2: 'y', S3: 'z' } });
    expectProblem(more, 422, 'limit_exceeded', /6 variables, more than the 5 allowed \(SIDECAR_MAX_APP_VARS\)/);
    await request(app)
      .patch(`/api/v1/apps/${n}`)
      .set(auth)
      .send({ env: { A: null } })
      .expect(200);
  });
});

describe('quotas', () => {
  it('a deployer token may create SIDECAR_MAX_APPS_PER_TOKEN apps, then 429 until it deletes one', async () => {
    const created = await request(app)
      .post('/api/v1/tokens')
      .set(auth)
      .send({ name: 'tenant', apps: ['*'] })
      .expect(201);
    const tenant = { authorization: `Bearer ${created.body.token as string}` };
    const [a, b, c] = [name(), name(), name()];
    await request(app).post('/api/v1/apps').set(tenant).send({ name: a }).expect(201);
    await request(app).post('/api/v1/apps').set(tenant).send({ name: b }).expect(201);
    const third = await request(app).post('/api/v1/apps').set(tenant).send({ name: c });
    expectProblem(third, 429, 'quota_exceeded', /created 2 apps.*\(SIDECAR_MAX_APPS_PER_TOKEN\)/);
    // The operator's admin token is not counted.
    await request(app).post('/api/v1/apps').set(auth).send({ name: c }).expect(201);
    await request(app).delete(`/api/v1/apps/${a}`).set(tenant).expect(204);
    await request(app).post('/api/v1/apps').set(tenant).send({ name: name() }).expect(201);
  });

  it('a third job of an app while two are pending is 429 quota_exceeded', async () => {
    const n = name();
    await request(app).post('/api/v1/apps').set(auth).send({ name: n }).expect(201);
    await stores.apps.update(n, (a) => ({ ...a, currentRelease: 1 }));
    for (let i = 0; i < 2; i++)
      await request(app)
        .post(`/api/v1/apps/${n}/jobs`)
        .set(auth)
        .send({ command: ['true'] })
        .expect(202);
    const third = await request(app)
      .post(`/api/v1/apps/${n}/jobs`)
      .set(auth)
      .send({ command: ['true'] });
    expectProblem(third, 429, 'quota_exceeded', /2 jobs pending or running.*\(SIDECAR_MAX_JOBS_PER_APP\)/);
  });
});

describe('scale to zero settings', () => {
  it('are stored partially and answered with defaults; out of bounds is 400 naming the field', async () => {
    const n = name();
    const created = await request(app)
      .post('/api/v1/apps')
      .set(auth)
      .send({ name: n, scaleToZero: { enabled: true } })
      .expect(201);
    expect(created.body.scaleToZero).toEqual({ enabled: true, idleSeconds: 300 });
    const patched = await request(app)
      .patch(`/api/v1/apps/${n}`)
      .set(auth)
      .send({ scaleToZero: { idleSeconds: 60 } })
      .expect(200);
    expect(patched.body.scaleToZero).toEqual({ enabled: true, idleSeconds: 60 });
    const bad = await request(app)
      .patch(`/api/v1/apps/${n}`)
      .set(auth)
      .send({ scaleToZero: { idleSeconds: 0 } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/idleSeconds/);
  });

  it('on the Kubernetes target turning it on is 422 unsupported, and nothing is stored', async () => {
    const n = name();
    await request(app).post('/api/v1/apps').set(auth).send({ name: n }).expect(201);
    await stores.platform.publishBackend({
      target: 'kubernetes',
      runtimeImage: 'runtime',
      runtimeImageDigest: `sha256:${'f1'.repeat(32)}`,
      sidecarImages: { logs: 'logs', tls: 'tls', procinfo: 'procinfo' },
      template: { probePeriodSeconds: 3, terminationGracePeriodSeconds: 30 },
    });
    try {
      const res = await request(app)
        .patch(`/api/v1/apps/${n}`)
        .set(auth)
        .send({ scaleToZero: { enabled: true } });
      expectProblem(res, 422, 'unsupported', /needs the Docker target/);
      const create = await request(app)
        .post('/api/v1/apps')
        .set(auth)
        .send({ name: name(), scaleToZero: { enabled: true } });
      expectProblem(create, 422, 'unsupported', /needs the Docker target/);
      expect((await request(app).get(`/api/v1/apps/${n}`).set(auth)).body.scaleToZero.enabled).toBe(false);
    } finally {
      // Back to no worker report (what the other tests of this file run with).
      await stores.redis.del(stores.keys.backendSettings);
    }
  });
});
