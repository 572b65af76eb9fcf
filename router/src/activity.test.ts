import { describe, expect, it } from 'vitest';
import { ActivitySampler } from './activity.js';

// HAProxy's `show stat` rows as the runtime API answers them (only the columns the sampler reads).
const row = (pxname: string, svname: string, stot: number, scur: number) => ({
  pxname,
  svname,
  stot: String(stot),
  scur: String(scur),
});

describe('ActivitySampler', () => {
  it('reports apps whose session total moved or that have a session open, from backend rows only', async () => {
    let rows: Record<string, string>[] = [];
    const sampler = new ActivitySampler({ stats: () => Promise.resolve(rows) });
    rows = [
      row('apps', 'FRONTEND', 50, 1),
      row('app_a', 'BACKEND', 10, 0),
      row('app_a', 'a-v1-xyz', 10, 0),
      row('app_b', 'BACKEND', 0, 0),
      row('no_app', 'BACKEND', 3, 0),
    ];
    expect(await sampler.sample()).toEqual(['a']);
    // Nothing new: quiet. A request to b; a long request open on a.
    expect(await sampler.sample()).toEqual([]);
    rows = [row('app_a', 'BACKEND', 10, 1), row('app_b', 'BACKEND', 1, 0)];
    expect(await sampler.sample()).toEqual(['a', 'b']);
    // After a reload HAProxy counts from 0 again: a change either way is traffic.
    rows = [row('app_a', 'BACKEND', 0, 0), row('app_b', 'BACKEND', 1, 0)];
    expect(await sampler.sample()).toEqual(['a']);
  });
});
