import { describe, expect, it } from 'vitest';
import type { Log } from '@sidecar/core';
import { Periodic } from './periodic.js';

/** A log that keeps its lines. */
function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (_fields: object, msg: string) => void lines.push(`${level}: ${msg}`);
  return { lines, info: keep('info'), warn: keep('warn'), error: keep('error') };
}

describe('Periodic', () => {
  it('logs a failing streak once per distinct error and says when it works again', async () => {
    const log = recordingLog();
    // Runs 1-3 fail alike (the engine away), 4 fails otherwise, 5 works, 6 fails again.
    const outcomes = ['ENOENT', 'ENOENT', 'ENOENT', 'EACCES', null, 'ENOENT'];
    let runs = 0;
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const ticks = new Periodic(
      'task',
      () => {
        const outcome = outcomes[runs++];
        if (runs === outcomes.length) allDone();
        return outcome ? Promise.reject(new Error(outcome)) : Promise.resolve();
      },
      5,
      log,
    );
    ticks.start();
    await done;
    await ticks.close();
    expect(log.lines).toEqual([
      'error: task failed (logged again only if the error changes)',
      'error: task failed (logged again only if the error changes)',
      'info: task works again after 4 failed run(s)',
      'error: task failed (logged again only if the error changes)',
    ]);
  });
});
