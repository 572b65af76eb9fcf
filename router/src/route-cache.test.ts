import { describe, expect, it } from 'vitest';
import { httpSettings } from '@sidecar/core';
import { wakeOnRequestFor } from './route-cache.js';

const settings = (scaleToZero: boolean, released: boolean) => ({
  http: httpSettings(undefined),
  scaleToZero,
  released,
});
const pod = { pod: 'a-v1-x', address: '10.0.0.2:8080' };

describe('wakeOnRequestFor: what a request finding no pod may wake', () => {
  it('an app with scale to zero on and a release, or pods in rotation (its first rollout, before the release is stored)', () => {
    expect(wakeOnRequestFor(settings(true, true), [])).toBe(true);
    expect(wakeOnRequestFor(settings(true, false), [pod])).toBe(true);
  });

  it('not an app with nothing to wake (never deployed, or its first deploy failed), nor one without scale to zero', () => {
    expect(wakeOnRequestFor(settings(true, false), [])).toBe(false);
    expect(wakeOnRequestFor(settings(false, true), [])).toBe(false);
    expect(wakeOnRequestFor(settings(false, true), [pod])).toBe(false);
  });
});
