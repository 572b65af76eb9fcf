import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { APP_DEFAULTS, type App, type Deploy } from '@sidecar/core';
import { connectRedis, createStores, newTokenSecret, SecretBox } from './index.js';

// The stores against a real Redis, many writers at once on one shared connection (as in the worker).
const redis = connectRedis(inject('redisUrl'));
const box = new SecretBox([{ id: 'a', key: randomBytes(32) }]);
const stores = createStores(redis, `t-${randomUUID().slice(0, 8)}:`, box);
afterAll(async () => {
  await stores.close();
  await redis.quit();
});

const app = (name: string): App => ({
  ...APP_DEFAULTS,
  name,
  env: {},
  secrets: {},
  resources: { ...APP_DEFAULTS.resources },
  sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
  currentRelease: null,
  status: 'new',
  createdAt: new Date().toISOString(),
});

describe('concurrent updates', () => {
  it('never lose a field another writer changed at the same time', async () => {
    await stores.apps.create(app('busy'));
    // 40 writers, each adding its own env key, interleaved with unrelated traffic on the same connection.
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await redis.ping();
        await stores.apps.update('busy', (a) => ({ ...a, env: { ...a.env, [`K${i}`]: String(i) } }));
        await stores.deployLog.append('unrelated', `line ${i}`);
      }),
    );
    expect(Object.keys((await stores.apps.get('busy')).env)).toHaveLength(40);
  });

  it('never overwrite a final deploy status, even when a late writer races the cancel', async () => {
    const d: Deploy = {
      id: `d_${randomUUID()}`,
      app: 'busy',
      status: 'building',
      release: null,
      error: null,
      source: 'api',
      createdAt: new Date().toISOString(),
      startedAt: null,
      builtAt: null,
      finishedAt: null,
      timings: { queuedMs: null, buildMs: null, deployMs: null, totalMs: null },
      bundleDigest: null,
    };
    await stores.deploys.create(d);
    const results = await Promise.all([
      stores.deploys.update(d.id, () => ({ status: 'cancelled', finishedAt: new Date().toISOString() })),
      ...Array.from({ length: 10 }, () => stores.deploys.update(d.id, () => ({ status: 'deploying' }))),
    ]);
    expect(results[0]!.applied).toBe(true);
    expect((await stores.deploys.find(d.id))!.status).toBe('cancelled');
    const log = await stores.deployLog.read(d.id, '0');
    expect(log.filter((e) => e.kind === 'end')).toHaveLength(1);
  });
});

describe('release versions', () => {
  const release = (app: string) => ({
    app,
    image: 'sidecar-app/x:d1',
    imageDigest: 'sha256:x',
    runtimeImage: 'runtime:1',
    runtimeImageDigest: 'sha256:r',
    settings: { replicas: 1, resources: { ...APP_DEFAULTS.resources } },
    env: {},
    manifest: { runtime: 'node' as const, mode: 'handler' as const, entry: 'index.js' },
    createdAt: new Date().toISOString(),
    deployId: 'd1',
  });

  it('a reserved number is used when no release took one since; a failed build leaves a gap', async () => {
    expect((await stores.releases.create(release('nums'))).version).toBe(1);
    const reserved = await stores.releases.reserve('nums');
    expect((await stores.releases.create(release('nums'), reserved)).version).toBe(2);
    await stores.releases.reserve('nums'); // its build failed: v3 is never recorded
    expect((await stores.releases.create(release('nums'))).version).toBe(4);
  });

  it('a release recorded during a build outranks nothing: the build gets a new number after it', async () => {
    const reserved = await stores.releases.reserve('during');
    // A config change while the code builds takes the next number, and the code is then recorded above it.
    expect((await stores.releases.create(release('during'))).version).toBe(reserved + 1);
    expect((await stores.releases.create(release('during'), reserved)).version).toBe(reserved + 2);
    expect((await stores.releases.list('during')).map((r) => r.version)).toEqual([reserved + 2, reserved + 1]);
  });
});

describe('secrets at rest', () => {
  it('are sealed with AES-256-GCM in Redis and open again through the store', async () => {
    await stores.apps.create({ ...app('sealed'), secrets: { DB_PASSWORD: 'hunter2-in-clear' } });
    const raw = (await redis.get(stores.keys.app('sealed')))!;
    expect(raw).not.toContain('hunter2-in-clear');
    expect(JSON.parse(raw).secrets.DB_PASSWORD).toMatch(/^v2:a:/);
    expect((await stores.apps.get('sealed')).secrets).toEqual({ DB_PASSWORD: 'hunter2-in-clear' });
  });

  it('rotate: with a new key first, reseal moves every value to it; the old key can then go', async () => {
    const newKey = { id: 'b', key: randomBytes(32) };
    const oldKey = (box as unknown as { keys: Array<{ id: string; key: Buffer }> }).keys[0]!;
    const rotating = createStores(redis, stores.keys.apps.replace(/apps$/, ''), new SecretBox([newKey, oldKey]));
    expect(await rotating.apps.reseal()).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((await redis.get(stores.keys.app('sealed')))!).secrets.DB_PASSWORD).toMatch(/^v2:b:/);
    const rotated = createStores(redis, stores.keys.apps.replace(/apps$/, ''), new SecretBox([newKey]));
    expect((await rotated.apps.get('sealed')).secrets).toEqual({ DB_PASSWORD: 'hunter2-in-clear' });
    // With only the old key, the value can no longer be opened, and the error says which key is missing.
    const stale = createStores(redis, stores.keys.apps.replace(/apps$/, ''), new SecretBox([oldKey]));
    await expect(stale.apps.get('sealed')).rejects.toThrow(/sealed with key "b", which is not loaded/);
    await Promise.all([rotating.close(), rotated.close(), stale.close()]);
  });

  it('a ciphertext moved to another app or another key name does not open (the place is associated data)', async () => {
    await stores.apps.create({ ...app('victim'), secrets: { TOKEN: 'victim-secret' } });
    await stores.apps.create({ ...app('thief'), secrets: { MINE: 'x' } });
    const victim = JSON.parse((await redis.get(stores.keys.app('victim')))!);
    const thief = JSON.parse((await redis.get(stores.keys.app('thief')))!);
    // Someone with write access to Redis copies the victim's sealed value into their own app.
    thief.secrets.MINE = victim.secrets.TOKEN;
    await redis.set(stores.keys.app('thief'), JSON.stringify(thief));
    await expect(stores.apps.get('thief')).rejects.toThrow(/the value of app\/thief\/secret\/MINE does not open/);
    // Under another name in the same app it does not open either.
    victim.secrets.OTHER = victim.secrets.TOKEN;
    await redis.set(stores.keys.app('victim'), JSON.stringify(victim));
    await expect(stores.apps.get('victim')).rejects.toThrow(/secret\/OTHER does not open/);
  });

  it('values of the older format (no associated data) still open, and reseal moves them to the new one', async () => {
    const k = (box as unknown as { keys: Array<{ id: string; key: Buffer }> }).keys[0]!;
    const { createCipheriv } = await import('node:crypto');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k.key, iv);
    const ct = Buffer.concat([c.update('legacy-value', 'utf8'), c.final()]);
    const v1 = [
      'v1',
      k.id,
      iv.toString('base64url'),
      c.getAuthTag().toString('base64url'),
      ct.toString('base64url'),
    ].join(':');
    // A platform of its own: the other tests here leave values this one's reseal must not meet.
    const own = createStores(redis, `t-${randomUUID().slice(0, 8)}:`, box);
    await redis.set(own.keys.app('old'), JSON.stringify({ ...app('old'), secrets: { LEGACY: v1 } }));
    await redis.sadd(own.keys.apps, 'old');
    expect((await own.apps.get('old')).secrets).toEqual({ LEGACY: 'legacy-value' });
    expect(await own.apps.reseal()).toBe(1);
    expect(JSON.parse((await redis.get(own.keys.app('old')))!).secrets.LEGACY).toMatch(/^v2:/);
    expect((await own.apps.get('old')).secrets).toEqual({ LEGACY: 'legacy-value' });
    await own.close();
  });
});

describe('the platform admin token', () => {
  it('replaces an earlier platform admin token, never a token a user named "admin"', async () => {
    const userAdmin = newTokenSecret();
    await stores.tokens.put(userAdmin, {
      name: 'admin',
      role: 'admin',
      apps: null,
      createdAt: new Date().toISOString(),
    });
    const first = newTokenSecret();
    await stores.tokens.ensureAdmin(first);
    await stores.tokens.ensureAdmin(first); // idempotent
    const second = newTokenSecret();
    await stores.tokens.ensureAdmin(second); // the operator changed SIDECAR_ADMIN_TOKEN
    expect(await stores.tokens.lookup(first)).toBeNull();
    expect(await stores.tokens.lookup(second)).toMatchObject({ role: 'admin', platform: true });
    expect(await stores.tokens.lookup(userAdmin)).toMatchObject({ name: 'admin', role: 'admin' });
  });
});

describe('apps stored before a sidecar setting existed', () => {
  it('read with its default: the log shipper on', async () => {
    const { sidecars: _dropped, ...legacy } = app('legacy');
    await redis.set(stores.keys.app('legacy'), JSON.stringify(legacy));
    await redis.set(
      stores.keys.app('legacy-tls'),
      JSON.stringify({ ...app('legacy-tls'), sidecars: { procinfo: true, tls: { enabled: false } } }),
    );
    expect((await stores.apps.get('legacy')).sidecars).toEqual({
      logs: true,
      procinfo: false,
      tls: { enabled: false },
    });
    expect((await stores.apps.get('legacy-tls')).sidecars).toEqual({
      logs: true,
      procinfo: true,
      tls: { enabled: false },
    });
  });
});

describe('app logs', () => {
  it('keep the file a shipped line came from, and only for file lines', async () => {
    const base = { time: '2026-11-27T19:00:00.000000000Z', pod: 'p', container: 'runtime', release: '1' };
    await stores.appLogs.append('files', [
      { ...base, stream: 'stdout', line: 'out' },
      { ...base, stream: 'file', file: 'app.log', line: 'in a file' },
    ]);
    const lines = await stores.appLogs.tail('files', { n: 10 });
    expect(lines.map(({ id: _id, ...l }) => l)).toEqual([
      { ...base, stream: 'stdout', line: 'out' },
      { ...base, stream: 'file', file: 'app.log', line: 'in a file' },
    ]);
  });

  it('drop lines older than the age limit when new ones are stored', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}:`;
    const aged = createStores(redis, prefix, box, { appLogMaxAgeMs: 60_000 });
    const key = `${prefix}app:aged:logs`;
    // Two lines stored ten minutes and ten seconds ago (stream ids begin with the time they were stored).
    const base = {
      time: '2026-11-27T19:00:00.000000000Z',
      pod: 'p',
      container: 'runtime',
      release: '1',
      stream: 'stdout',
    };
    const fields = (line: string) => Object.entries({ ...base, line }).flat();
    await redis.xadd(key, `${Date.now() - 600_000}-0`, ...fields('ten minutes old'));
    await redis.xadd(key, `${Date.now() - 10_000}-0`, ...fields('ten seconds old'));
    expect((await aged.appLogs.tail('aged', { n: 10 })).map((l) => l.line)).toEqual([
      'ten minutes old',
      'ten seconds old',
    ]);
    await aged.appLogs.append('aged', [{ ...base, stream: 'stdout', line: 'new' }]);
    expect((await aged.appLogs.tail('aged', { n: 10 })).map((l) => l.line)).toEqual(['ten seconds old', 'new']);
    await aged.close();
  });
});

describe('routing settings', () => {
  it("give each app's scale to zero and whether it has a release (what a request may wake)", async () => {
    await stores.apps.create({ ...app('rs-sleepy'), scaleToZero: { enabled: true, idleSeconds: 60 } });
    await stores.apps.create({
      ...app('rs-awake'),
      scaleToZero: { enabled: true, idleSeconds: 60 },
      currentRelease: 1,
    });
    await stores.apps.create(app('rs-plain'));
    const of = async () =>
      Object.fromEntries(
        [...(await stores.routes.routingSettingsOf(['rs-sleepy', 'rs-awake', 'rs-plain']))].map(([a, r]) => [
          a,
          [r.scaleToZero, r.released],
        ]),
      );
    expect(await of()).toEqual({ 'rs-sleepy': [true, false], 'rs-awake': [true, true], 'rs-plain': [false, false] });
    await stores.apps.update('rs-sleepy', (a) => ({ ...a, currentRelease: 1 }));
    expect((await of())['rs-sleepy']).toEqual([true, true]);
  });
});
