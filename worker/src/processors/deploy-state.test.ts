import { randomBytes, randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DomainError, ErrorCode, type Deploy } from '@sidecar/core';
import { connectRedis, createStores, SecretBox } from '@sidecar/store';
import { handleFailure, recorder } from './deploy-state.js';

// The worker's one error policy, against a real Redis: what a deploy ends as for each kind of failure.
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

async function building(): Promise<Deploy> {
  const d: Deploy = {
    id: `d_${randomUUID()}`,
    app: 'policy',
    status: 'building',
    release: null,
    error: null,
    source: 'api',
    createdAt: new Date().toISOString(),
    startedAt: new Date().toISOString(),
    builtAt: null,
    finishedAt: null,
    timings: { queuedMs: null, buildMs: null, deployMs: null, totalMs: null },
    bundleDigest: null,
  };
  return stores.deploys.create(d);
}
const job = (attemptsMade: number, attempts = 3) => ({ attemptsMade, opts: { attempts } }) as unknown as Job;
const outcome = async (deploy: Deploy, error: unknown, j: Job, aborted = false) => {
  const thrown = await handleFailure({
    stores,
    job: j,
    deploy,
    error,
    aborted,
    rec: recorder(stores, deploy.id),
  }).catch((e: unknown) => e);
  return {
    thrown,
    deploy: (await stores.deploys.find(deploy.id))!,
    log: (await stores.deployLog.read(deploy.id, '0')).map((e) => (e.kind === 'line' ? e.line : `END ${e.status}`)),
  };
};

describe('handleFailure', () => {
  it("a user's broken bundle fails the deploy at once and is not retried", async () => {
    const { thrown, deploy, log } = await outcome(
      await building(),
      new DomainError(ErrorCode.bundleInvalid, 'no entry found'),
      job(0),
    );
    expect(thrown).toBeInstanceOf(UnrecoverableError);
    expect(deploy).toMatchObject({ status: 'failed', error: { code: 'bundle_invalid', message: 'no entry found' } });
    expect(log.at(-1)).toBe('END failed');
  });

  it('a transient error (a Docker hiccup) is retried: the deploy stays open and the log says so', async () => {
    const hiccup = Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
      address: '/var/run/docker.sock',
    });
    const { thrown, deploy, log } = await outcome(await building(), hiccup, job(0));
    expect(thrown).toBe(hiccup); // BullMQ retries it with backoff
    expect(deploy.status).toBe('building');
    expect(log.at(-1)).toMatch(
      /transient error, will retry \(attempt 1 of 3\): the Docker engine does not answer \(stopped or restarting\?\): connect ECONNREFUSED/,
    );
  });

  it('a transient error on the last attempt fails the deploy, saying it gave up', async () => {
    const { thrown, deploy } = await outcome(await building(), new Error('daemon timeout'), job(2));
    expect(thrown).toBeInstanceOf(UnrecoverableError);
    expect(deploy.status).toBe('failed');
    expect(deploy.error?.message).toMatch(/gave up after 3 attempts/);
  });

  it('a full disk is retried, and if it stays full the deploy fails saying so (insufficient_storage)', async () => {
    const full = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const first = await outcome(await building(), full(), job(0));
    expect(first.deploy.status).toBe('building');
    expect(first.log.at(-1)).toMatch(/will retry \(attempt 1 of 3\): the platform's disk is full: ENOSPC/);
    const last = await outcome(await building(), full(), job(2));
    expect(last.deploy).toMatchObject({
      status: 'failed',
      error: {
        code: 'insufficient_storage',
        message: "the platform's disk is full: ENOSPC: no space left on device, write (gave up after 3 attempts)",
      },
    });
  });

  it('a cancellation ends the deploy as cancelled, not failed', async () => {
    const { thrown, deploy } = await outcome(await building(), new Error('aborted'), job(0), true);
    expect(thrown).toBeInstanceOf(UnrecoverableError);
    expect(deploy).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
  });
});
