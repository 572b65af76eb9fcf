import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectRedis } from './index.js';
import { followStream } from './follow.js';
import { StreamHub, compareIds, type RawEntry } from './stream-hub.js';

// Many followers of many streams through one blocking reader, against a real Redis.
// A name of this file's own: its connections can be counted while other files use the same Redis.
const name = `t-hub-${randomUUID().slice(0, 8)}`;
const redis = connectRedis(inject('redisUrl'), { connectionName: name });
const hub = new StreamHub(redis);
afterAll(async () => {
  await hub.close();
  await redis.quit();
});
const read = (key: string) => async (after: string) =>
  ((await redis.xread('COUNT', 100, 'STREAMS', key, after))?.[0]?.[1] ?? []).map(([id, f]: RawEntry) => ({
    id,
    line: f[1]!,
  }));
const connections = async () =>
  ((await redis.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes(` name=${name} `)).length;

describe('StreamHub', () => {
  it('serves 50 followers of 10 streams on one blocking connection; each sees every line of its stream in order', async () => {
    const keys = Array.from({ length: 10 }, () => `t-hub-${randomUUID()}`);
    const stop = new AbortController();
    const followers = Array.from({ length: 50 }, async (_, i) => {
      const key = keys[i % keys.length]!;
      const seen: string[] = [];
      for await (const page of followStream({ hub, key, after: '0', signal: stop.signal, read: read(key) })) {
        seen.push(...page.map((e) => e.line));
        if (seen.length >= 3) break;
      }
      return seen;
    });
    // Lines written while the followers wait, so they arrive through the hub's blocking read.
    for (const n of [1, 2, 3]) for (const key of keys) await redis.xadd(key, '*', 'line', `${key} ${n}`);
    const results = await Promise.all(followers);
    results.forEach((seen, i) => {
      const key = keys[i % keys.length]!;
      expect(seen).toEqual([`${key} 1`, `${key} 2`, `${key} 3`]);
    });
    // This file's connection and the hub's one blocking reader, whatever the number of followers.
    expect(await connections()).toBe(2);
    stop.abort();
  });

  it('a follower that goes away ends at once, while the stream is quiet', async () => {
    const key = `t-hub-${randomUUID()}`;
    const stop = new AbortController();
    const pages: number[] = [];
    const following = (async () => {
      for await (const page of followStream({ hub, key, after: '0', signal: stop.signal, read: read(key) }))
        pages.push(page.length);
    })();
    await redis.xadd(key, '*', 'line', 'one');
    while (pages.length === 0) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    await following; // would hang until the hub's 15 s block if the abort were not honoured
    expect(pages).toEqual([1]);
  });

  it('orders stream ids by time, then sequence', () => {
    expect(compareIds('2-0', '10-0')).toBeLessThan(0);
    expect(compareIds('5-2', '5-10')).toBeLessThan(0);
    expect(compareIds('7-1', '7-1')).toBe(0);
  });
});
