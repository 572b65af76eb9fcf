import { describe, expect, it } from 'vitest';
import { ActivitySampler, type StatsSource } from './activity.js';

// HAProxy's `show stat` rows as the runtime API answers them (only the columns the sampler reads).
const row = (pxname: string, svname: string, stot: number, scur: number) => ({
  pxname,
  svname,
  stot: String(stot),
  scur: String(scur),
});

const samplerOver = () => {
  const source = { workers: [] as Awaited<ReturnType<StatsSource['backends']>> };
  const sampler = new ActivitySampler({ backends: () => Promise.resolve(source.workers) });
  return { source, sampler };
};

describe('ActivitySampler', () => {
  it('reports apps whose session total moved or that have a session open, from backend rows only', async () => {
    const { source, sampler } = samplerOver();
    source.workers = [
      {
        pid: 10,
        rows: [
          row('apps', 'FRONTEND', 50, 1),
          row('app_a', 'BACKEND', 10, 0),
          row('app_a', 'a-v1-xyz', 10, 0),
          row('app_b', 'BACKEND', 0, 0),
          row('no_app', 'BACKEND', 3, 0),
        ],
      },
    ];
    expect(await sampler.sample()).toEqual(['a']);
    // Nothing new: quiet. A request to b; a long request open on a.
    expect(await sampler.sample()).toEqual([]);
    source.workers = [{ pid: 10, rows: [row('app_a', 'BACKEND', 10, 1), row('app_b', 'BACKEND', 1, 0)] }];
    expect(await sampler.sample()).toEqual(['a', 'b']);
  });

  it('a reload is not traffic: the new worker counts from 0, the old one keeps its totals', async () => {
    const { source, sampler } = samplerOver();
    source.workers = [{ pid: 10, rows: [row('app_a', 'BACKEND', 10, 0), row('app_b', 'BACKEND', 4, 0)] }];
    expect(await sampler.sample()).toEqual(['a', 'b']);
    // Reloaded (another tenant's app created): a new worker at 0, the old one gone or still draining.
    source.workers = [
      { pid: 11, rows: [row('app_a', 'BACKEND', 0, 0), row('app_b', 'BACKEND', 0, 0), row('app_c', 'BACKEND', 0, 0)] },
      { pid: 10, rows: [row('app_a', 'BACKEND', 10, 0), row('app_b', 'BACKEND', 4, 0)] },
    ];
    expect(await sampler.sample()).toEqual([]);
    source.workers = [source.workers[0]!];
    expect(await sampler.sample()).toEqual([]);
    // A request on the new worker is traffic.
    source.workers = [{ pid: 11, rows: [row('app_a', 'BACKEND', 0, 0), row('app_c', 'BACKEND', 1, 0)] }];
    expect(await sampler.sample()).toEqual(['c']);
  });

  it("an old worker's open connection (a WebSocket kept across a reload) keeps its app busy", async () => {
    const { source, sampler } = samplerOver();
    source.workers = [{ pid: 10, rows: [row('app_ws', 'BACKEND', 1, 1)] }];
    expect(await sampler.sample()).toEqual(['ws']);
    source.workers = [
      { pid: 11, rows: [row('app_ws', 'BACKEND', 0, 0)] },
      { pid: 10, rows: [row('app_ws', 'BACKEND', 1, 1)] },
    ];
    expect(await sampler.sample()).toEqual(['ws']);
    expect(await sampler.sample()).toEqual(['ws']);
    // The WebSocket closed; the old worker exits.
    source.workers = [source.workers[0]!];
    expect(await sampler.sample()).toEqual([]);
  });

  it('keeps what it observed before a reload for the next sample: the replaced worker may exit with it', async () => {
    const { source, sampler } = samplerOver();
    source.workers = [{ pid: 10, rows: [row('app_a', 'BACKEND', 0, 0)] }];
    expect(await sampler.sample()).toEqual([]);
    source.workers = [{ pid: 10, rows: [row('app_a', 'BACKEND', 1, 0)] }];
    await sampler.observe();
    // The reload took effect and the old worker, with no connection left, is gone.
    source.workers = [{ pid: 11, rows: [row('app_a', 'BACKEND', 0, 0)] }];
    expect(await sampler.sample()).toEqual(['a']);
    expect(await sampler.sample()).toEqual([]);
  });
});
