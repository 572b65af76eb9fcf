import { describe, expect, it } from 'vitest';
import { maskSecrets, mergeVars, parseCpu, parseMemory } from './app.js';
import { assertAppName, isValidAppName } from './names.js';

describe('app rules', () => {
  it('accepts DNS-1123 labels of 1-30 characters only', () => {
    for (const ok of ['a', 'hello', 'my-app-2', 'a'.repeat(30)]) expect(isValidAppName(ok)).toBe(true);
    for (const bad of ['', 'A', '1app', 'app-', 'a_b', 'a.b', 'a'.repeat(31), 42])
      expect(isValidAppName(bad)).toBe(false);
    expect(() => assertAppName('Bad')).toThrow(/invalid app name "Bad"/);
  });
  it('merges env patches, null removing a key', () => {
    expect(mergeVars({ A: '1', B: '2' }, { A: null, C: '3' })).toEqual({ B: '2', C: '3' });
  });
  it('masks every secret value', () => {
    expect(maskSecrets({ X: 'secret', Y: '' })).toEqual({ X: '******', Y: '******' });
  });
  it('parses Kubernetes quantities', () => {
    expect(parseMemory('256Mi')).toBe(256 * 1024 * 1024);
    expect(parseMemory('1G')).toBe(1e9);
    expect(parseCpu('500m')).toBe(5e8);
    expect(parseCpu('2')).toBe(2e9);
    expect(() => parseMemory('lots')).toThrow(/invalid memory/);
  });
});
