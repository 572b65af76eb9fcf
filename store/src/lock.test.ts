import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectRedis } from './index.js';
import { RedisLock } from './lock.js';

// The one lock implementation (app lock, git push lock) against a real Redis.
const redis = connectRedis(inject('redisUrl'));
afterAll(async () => {
  await redis.quit();
});
const key = () => `t-lock-${randomUUID()}`;
const never = new AbortController().signal;

describe('RedisLock', () => {
  it('one owner at a time; the same owner may take it again; release frees it for the next', async () => {
    const lock = new RedisLock(redis, key());
    const a = await lock.tryAcquire('a');
    expect(a).not.toBeNull();
    expect(await lock.tryAcquire('b')).toBeNull();
    expect(await lock.tryAcquire('a')).not.toBeNull();
    await a!.release();
    expect(await lock.tryAcquire('b')).not.toBeNull();
  });

  it('renews only while it owns the lock: another owner is neither extended nor released, and the holder learns it lost it', async () => {
    const k = key();
    const lock = new RedisLock(redis, k, 600); // renewed every 200 ms
    const held = (await lock.tryAcquire('a'))!;
    // The lock expired while "a" stalled, and "b" took it.
    await redis.set(k, 'b', 'PX', 10_000);
    await once(held.lost, 'abort');
    expect(await redis.get(k)).toBe('b');
    expect(await redis.pttl(k)).toBeLessThanOrEqual(10_000);
    expect(await redis.pttl(k)).toBeGreaterThan(600); // never shortened to a's TTL either
    await held.release();
    expect(await redis.get(k)).toBe('b');
  });

  it('a holder stalled past its TTL learns it lost the lock as soon as it runs again, before pending I/O is handled', async () => {
    const k = key();
    const held = (await new RedisLock(redis, k, 300).tryAcquire('a'))!;
    const order: string[] = [];
    held.lost.addEventListener('abort', () => order.push('lost'));
    // A reply that arrives while the process is stalled (what a rollout would act on when it wakes).
    const reply = redis.ping().then(() => order.push('reply handled'));
    const until = Date.now() + 450;
    while (Date.now() < until); // the process stalls, as under SIGSTOP, for longer than the TTL
    await reply;
    expect(order).toEqual(['lost', 'reply handled']);
    expect(String(held.lost.reason)).toMatch(/stalled past its 300 ms TTL/);
    await held.release();
  });

  it('keeps a held lock alive past its TTL by renewing it', async () => {
    const k = key();
    // A TTL a stall of this process or of Redis (the whole suite runs alongside) cannot outlast by chance.
    const lock = new RedisLock(redis, k, 1500);
    const held = (await lock.tryAcquire('a'))!;
    // Poll (a condition, not a time) until the lock has outlived twice its TTL, watching for a renewal.
    const start = Date.now();
    let renewed = false;
    for (let last = await redis.pttl(k); Date.now() - start < 3200;) {
      await new Promise((r) => setTimeout(r, 20));
      const now = await redis.pttl(k);
      if (now > last) renewed = true;
      last = now;
    }
    expect(renewed).toBe(true);
    expect(held.lost.aborted).toBe(false);
    expect(await redis.get(k)).toBe('a');
    await held.release();
    expect(await redis.exists(k)).toBe(0);
  });

  it('acquire() waits for the holder, telling the caller once; gives up after waitMs or when the signal fires', async () => {
    const k = key();
    const lock = new RedisLock(redis, k);
    const first = (await lock.tryAcquire('a'))!;
    let waits = 0;
    const second = lock.acquire({ owner: 'b', waitMs: 30_000, signal: never, onWait: () => waits++ });
    await first.release();
    expect(await second).not.toBeNull();
    expect(waits).toBe(1);
    expect(await lock.acquire({ owner: 'c', waitMs: 0, signal: never })).toBeNull();
    const gone = new AbortController();
    gone.abort();
    expect(await lock.acquire({ owner: 'c', waitMs: 30_000, signal: gone.signal })).toBeNull();
  });
});
