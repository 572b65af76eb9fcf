import { describe, expect, it } from 'vitest';
import { CrashLoopBackoff } from './backoff.js';

describe('CrashLoopBackoff (kubelet doBackOff)', () => {
  it('restarts the first exit at once, then waits 10 s, 20 s, 40 s ... capped at 300 s', () => {
    const b = new CrashLoopBackoff();
    let t = 0;
    expect(b.delayFor('c', t, t)).toBe(0);
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      t += 1000; // it ran 1 s, then exited
      const wait = b.delayFor('c', t, t);
      waits.push(wait);
      t += wait;
      expect(b.delayFor('c', t - wait, t)).toBe(0); // due now: restarts, arming the next delay
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });

  it('forgets a container that ran for more than 10 minutes', () => {
    const b = new CrashLoopBackoff();
    expect(b.delayFor('c', 0, 0)).toBe(0);
    expect(b.delayFor('c', 1000, 1000)).toBe(10_000);
    expect(b.delayFor('c', 1000, 11_000)).toBe(0);
    const exit = 11_000 + 601_000;
    expect(b.delayFor('c', exit, exit)).toBe(0);
  });

  it('scales every duration', () => {
    const b = new CrashLoopBackoff(0.05);
    expect(b.delayFor('c', 0, 0)).toBe(0);
    expect(b.delayFor('c', 100, 100)).toBe(500);
    expect(() => new CrashLoopBackoff(0)).toThrow();
  });
});
