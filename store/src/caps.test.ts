import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  APP_LOG_MAX_LINE_BYTES,
  connectRedis,
  createStores,
  cutLine,
  DEPLOY_LOG_MAX_LINES,
  SecretBox,
} from './index.js';

// What one tenant's output may cost in Redis, against a real Redis.
const redis = connectRedis(inject('redisUrl'));
const stores = createStores(
  redis,
  `t-${randomUUID().slice(0, 8)}:`,
  new SecretBox([{ id: 'a', key: randomBytes(32) }]),
);
afterAll(async () => {
  await stores.close();
  await redis.quit();
});

describe('Redis memory caps', () => {
  it('a deploy log keeps its first lines and one notice, whatever a build prints', async () => {
    const id = `d_${randomUUID()}`;
    for (let i = 0; i < DEPLOY_LOG_MAX_LINES + 500; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => stores.deployLog.append(id, `line ${i + j}`)));
    }
    const all = [];
    for (let page = await stores.deployLog.read(id, '0'); page.length > 0;) {
      all.push(...page);
      page = await stores.deployLog.read(id, page.at(-1)!.id);
    }
    expect(all).toHaveLength(DEPLOY_LOG_MAX_LINES + 1);
    expect(all.at(-1)).toMatchObject({ kind: 'line', line: expect.stringMatching(/the log was cut at 10000 lines/) });
  });

  it('a huge line is cut, at a character boundary, with a marker', async () => {
    expect(cutLine('short', 10)).toBe('short');
    const cut = cutLine('é'.repeat(5000), 2048);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(2048);
    expect(cut).toMatch(/^é+ …\[cut\]$/);
    const app = `a-${randomUUID().slice(0, 8)}`;
    const line = {
      time: new Date().toISOString(),
      pod: 'p',
      container: 'runtime',
      release: '1',
      stream: 'stdout' as const,
    };
    await stores.appLogs.append(app, [{ ...line, line: 'x'.repeat(1024 * 1024) }]);
    const [stored] = await stores.appLogs.tail(app, { n: 1 });
    expect(Buffer.byteLength(stored!.line)).toBeLessThanOrEqual(APP_LOG_MAX_LINE_BYTES);
  });

  it('a tail reads no more than its byte budget: the newest lines that fit, oldest first', async () => {
    const app = `t-${randomUUID().slice(0, 8)}`;
    const base = {
      time: new Date().toISOString(),
      pod: 'p',
      container: 'runtime',
      release: '1',
      stream: 'stdout' as const,
    };
    await stores.appLogs.append(
      app,
      Array.from({ length: 100 }, (_, i) => ({ ...base, line: `${String(i).padStart(3, '0')}${'x'.repeat(997)}` })),
    );
    // 1,000 bytes a line plus ~128 of metadata: 9 lines reach 10,000.
    const lines = await stores.appLogs.tail(app, { n: 100, maxBytes: 10_000 });
    expect(lines.map((l) => l.line.slice(0, 3))).toEqual([
      '091',
      '092',
      '093',
      '094',
      '095',
      '096',
      '097',
      '098',
      '099',
    ]);
  });

  it('release records beyond the newest N are forgotten, never the current one', async () => {
    const app = `r-${randomUUID().slice(0, 8)}`;
    const base = {
      app,
      image: 'i',
      imageDigest: 'sha256:x',
      runtimeImage: 'r',
      env: {},
      manifest: { runtime: 'node' as const, mode: 'handler' as const, entry: 'index.js' },
      createdAt: new Date().toISOString(),
      deployId: 'd',
    };
    for (let i = 0; i < 12; i++) await stores.releases.create(base);
    expect(await stores.releases.retain(app, { keepNewest: 5, alsoKeep: [2] })).toBe(6);
    expect((await stores.releases.list(app)).map((r) => r.version)).toEqual([12, 11, 10, 9, 8, 2]);
  });
});
