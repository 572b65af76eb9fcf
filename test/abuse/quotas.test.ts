import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { type Bystander, expectUnharmed, startBystander } from '../support/bystander.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';
import { deployerToken, expectProblem, sendJson } from '../support/problems.js';

/*
 * Compute quotas (issue 14, finding 6), through the public API of a running platform with its default
 * maximums: a tenant asking for more memory or CPU than a container may have, more replicas than an
 * app may have, more apps than its token may hold, or more jobs at once than an app may run is answered
 * 422 or 429 problem+json naming the limit and its setting, and nothing of the request is stored or
 * started. A job past SIDECAR_JOB_TIME_LIMIT_MS (10 s here) is stopped. A bystander app of another
 * tenant keeps serving meanwhile.
 */
const APP = 'greedy';
const JOB_TIME_LIMIT_MS = 10_000;
let p: RunningPlatform;
let bystander: Bystander;

beforeAll(async () => {
  p = await startPlatform({ SIDECAR_JOB_TIME_LIMIT_MS: String(JOB_TIME_LIMIT_MS) });
  bystander = await startBystander(p);
  await createApp(p, APP);
  const first = await deploy(p, APP, await tgzOf({ 'index.js': 'module.exports = (q, s) => s.end("greedy v1");' }));
  expect(first.deploy.status, first.log).toBe('succeeded');
}, 240_000);
afterAll(async () => {
  await bystander?.stop();
  await stopPlatform(p);
}, 120_000);

const releasesOf = async (app: string) =>
  ((await (await p.api$(`/api/v1/apps/${app}/releases`)).json()) as { items: unknown[] }).items.length;

describe('a tenant asking for more compute than the platform allows', () => {
  it('1000Gi of memory, 64 CPUs or 11 replicas for a new app: 422 limit_exceeded naming the limit and its setting', async () => {
    const create = (body: object) => sendJson(p, 'POST', '/api/v1/apps', { name: 'huge', ...body });
    await expectProblem(
      await create({ resources: { memory: '1000Gi' } }),
      422,
      'limit_exceeded',
      /resources\.memory: 1000Gi is more than the 2Gi a container may have \(SIDECAR_MAX_MEMORY\)/,
    );
    await expectProblem(
      await create({ resources: { cpu: '64' } }),
      422,
      'limit_exceeded',
      /resources\.cpu: 64 is more than the 2 CPU a container may have \(SIDECAR_MAX_CPU\)/,
    );
    await expectProblem(
      await create({ replicas: 11 }),
      422,
      'limit_exceeded',
      /replicas: 11 is more than the 10 an app may have \(SIDECAR_MAX_REPLICAS\)/,
    );
    expect((await p.api$('/api/v1/apps/huge')).status).toBe(404); // none of them was created
  });

  it('the same through a PATCH of a deployed app: refused, nothing stored, no release rolled out', async () => {
    const before = await releasesOf(APP);
    for (const [body, setting] of [
      [{ resources: { memory: '1000Gi' } }, 'SIDECAR_MAX_MEMORY'],
      [{ resources: { cpu: '64' } }, 'SIDECAR_MAX_CPU'],
      [{ replicas: 11 }, 'SIDECAR_MAX_REPLICAS'],
    ] as const) {
      await expectProblem(
        await sendJson(p, 'PATCH', `/api/v1/apps/${APP}`, body),
        422,
        'limit_exceeded',
        new RegExp(`\\(${setting}\\)`),
      );
    }
    const app = (await (await p.api$(`/api/v1/apps/${APP}`)).json()) as { replicas: number; resources: object };
    expect(app).toMatchObject({ replicas: 1, resources: { memory: '256Mi', cpu: '500m' } });
    expect(await releasesOf(APP)).toBe(before);
    expect(await p.get(APP)).toEqual({ status: 200, body: 'greedy v1' });
  });
});

describe('a deployer token creating apps without end', () => {
  it('gets 429 quota_exceeded at the 21st, naming SIDECAR_MAX_APPS_PER_TOKEN; deleting one makes room', async () => {
    const token = await deployerToken(p, 'hoarder');
    for (let i = 1; i <= 20; i++) {
      const res = await sendJson(p, 'POST', '/api/v1/apps', { name: `hoard-${i}` }, token);
      expect(res.status, await res.text()).toBe(201);
    }
    await expectProblem(
      await sendJson(p, 'POST', '/api/v1/apps', { name: 'hoard-21' }, token),
      429,
      'quota_exceeded',
      /this token has created 20 apps, as many as one token may have: delete one first \(SIDECAR_MAX_APPS_PER_TOKEN\)/,
    );
    expect((await p.api$('/api/v1/apps/hoard-21')).status).toBe(404);
    // Another tenant's token is not counted against it.
    const other = await deployerToken(p, 'other-tenant');
    expect((await sendJson(p, 'POST', '/api/v1/apps', { name: 'other-1' }, other)).status).toBe(201);
    // The quota counts apps held, not apps ever created.
    const del = await p.api$('/api/v1/apps/hoard-1', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(del.status).toBe(204);
    expect((await sendJson(p, 'POST', '/api/v1/apps', { name: 'hoard-21' }, token)).status).toBe(201);
  });
});

interface Job {
  id: string;
  status: string;
  error: string | null;
}

describe('an app starting jobs that never end', () => {
  it('gets 429 quota_exceeded for a 3rd job at once (SIDECAR_MAX_JOBS_PER_APP); each is stopped at SIDECAR_JOB_TIME_LIMIT_MS', async () => {
    const forever = { command: ['node', '-e', 'setInterval(() => {}, 1000)'] };
    const started: Job[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await sendJson(p, 'POST', `/api/v1/apps/${APP}/jobs`, forever);
      expect(res.status, await res.clone().text()).toBe(202);
      started.push((await res.json()) as Job);
    }
    await expectProblem(
      await sendJson(p, 'POST', `/api/v1/apps/${APP}/jobs`, forever),
      429,
      'quota_exceeded',
      /app "greedy" has 2 jobs pending or running, as many as an app may have at once: wait for one to end \(SIDECAR_MAX_JOBS_PER_APP\)/,
    );
    // Both run until the time limit stops them (bounded well past it: a job pod starts first).
    for (const job of started) {
      const ended = await eventually(
        `job ${job.id} stopped by the time limit`,
        async () => {
          const cur = (await (await p.api$(`/api/v1/apps/${APP}/jobs/${job.id}`)).json()) as Job;
          return cur.status === 'failed' || cur.status === 'succeeded' ? cur : undefined;
        },
        JOB_TIME_LIMIT_MS + 90_000,
      );
      expect(ended.status).toBe('failed');
      expect(ended.error).toMatch(
        /stopped after running longer than the time limit of .+ \(SIDECAR_JOB_TIME_LIMIT_MS\)/,
      );
    }
    // Ended jobs free the quota.
    const next = await sendJson(p, 'POST', `/api/v1/apps/${APP}/jobs`, { command: ['node', '-e', '0'] });
    expect(next.status).toBe(202);
    expect(await p.get(APP)).toEqual({ status: 200, body: 'greedy v1' });
  }, 180_000);
});

describe('while all of that ran', () => {
  it('the bystander app served every request and the API answered every health check', async () => {
    expectUnharmed(await bystander.stop());
  });
});
