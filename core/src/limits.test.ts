import { describe, expect, it } from 'vitest';
import { type App, APP_DEFAULTS } from './app.js';
import { checkAppSettings, checkVars, DEFAULT_TENANT_LIMITS as L } from './limits.js';

const app = (over: Partial<App> = {}): App => ({
  name: 'a',
  runtime: 'node',
  env: {},
  secrets: {},
  replicas: 1,
  resources: { ...APP_DEFAULTS.resources },
  sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
  currentRelease: null,
  status: 'new',
  createdAt: '2026-01-01T00:00:00.000Z',
  ...over,
});
const refused = (f: () => void) => {
  try {
    f();
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('not refused');
};

describe('tenant limits', () => {
  it('names the limit and its setting when memory, CPU or replicas ask for more than the maximum', () => {
    expect(refused(() => checkAppSettings(app(), { resources: { memory: '1000Gi' }, varsGrew: false }, L))).toEqual(
      expect.objectContaining({
        code: 'limit_exceeded',
        message: 'resources.memory: 1000Gi is more than the 2Gi a container may have (SIDECAR_MAX_MEMORY)',
      }),
    );
    expect(refused(() => checkAppSettings(app(), { resources: { cpu: '2001m' }, varsGrew: false }, L)).message).toMatch(
      /resources\.cpu: 2001m is more than the 2 CPU .*SIDECAR_MAX_CPU/,
    );
    expect(refused(() => checkAppSettings(app(), { replicas: 11, varsGrew: false }, L)).message).toMatch(
      /replicas: 11 is more than the 10 .*SIDECAR_MAX_REPLICAS/,
    );
    // At the maximum is allowed.
    checkAppSettings(app(), { resources: { memory: '2Gi', cpu: '2' }, replicas: 10, varsGrew: false }, L);
  });

  it('counts env and secrets together, by number and by bytes', () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`K${i}`, 'v']));
    expect(() => checkVars([many, many], L)).toThrow(
      /202 variables, more than the 200 allowed.*SIDECAR_MAX_APP_VARS\)/,
    );
    const big = { A: 'x'.repeat(32 * 1024), B: 'x'.repeat(32 * 1024) };
    expect(() => checkVars([big], L)).toThrow(/64 KiB of names and values, more than the 64 KiB allowed.*_BYTES/);
  });

  it('checks only what a PATCH changed: removing variables from an app already over a lowered limit is allowed', () => {
    const lowered = { ...L, maxVars: 1, maxSettingsBytes: 100 };
    const over = app({ env: { A: '1', B: '2', C: 'x'.repeat(200) } });
    const fewer = app({ env: { A: '1', B: '2' } });
    checkAppSettings(fewer, { before: over, varsGrew: false }, lowered);
    expect(() => checkAppSettings(over, { before: fewer, varsGrew: true }, lowered)).toThrow(/SIDECAR_MAX_APP_VARS\)/);
    expect(() => checkAppSettings(over, { before: fewer, varsGrew: false }, lowered)).toThrow(
      /settings are .* as stored, more than the 100 B allowed \(SIDECAR_MAX_APP_SETTINGS_BYTES\)/,
    );
  });
});
