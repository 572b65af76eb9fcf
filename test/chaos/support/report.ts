import { appendFileSync } from 'node:fs';
import type { PhaseReport } from '../../support/bystander.js';

/**
 * One row of docs/reliability.md, measured: what users saw while the fault lasted and after it,
 * how many requests failed, what data was lost, and how long until everything worked again.
 */
export interface FaultFigures {
  fault: string;
  /** What an app's users and an API client saw, in words. */
  usersSee: string;
  /** Requests through the router to an app that was already serving: failed of sent, during and after the fault. */
  appRequests: { sent: number; failed: number; failedAfterRecovery: number };
  /** Requests to the API (health loop and, where the test has one, an authenticated store-backed loop). */
  apiRequests: { sent: number; failed: number; failedAfterRecovery: number };
  /** Acknowledged writes (apps, releases, tokens, deploys, log lines) missing afterwards; 0 when nothing was lost. */
  dataLost: string;
  /** From the fault's start (or its end, where stated in `recoveredFrom`) until the platform works again. */
  recoverMs: number | null;
  recoveredFrom?: 'fault start' | 'fault end';
  /** Anything else measured (deploy outcomes, restart counts, latencies). */
  details?: Record<string, unknown>;
}

/** Prints one JSON line per fault (visible in the test output) and appends it to SIDECAR_CHAOS_REPORT when set. */
export function recordFault(figures: FaultFigures): void {
  const line = JSON.stringify({ at: new Date().toISOString(), ...figures });
  process.stdout.write(`chaos: ${line}\n`);
  const file = process.env.SIDECAR_CHAOS_REPORT;
  if (file) appendFileSync(file, `${line}\n`);
}

/** Sent and failed requests of one loop over the phases from `from` on, and failures in phases after `recovered`. */
export function loopFigures(
  phases: PhaseReport[],
  loop: 'app' | 'api',
  opts: { from: string; recovered?: string },
): { sent: number; failed: number; failedAfterRecovery: number } {
  const start = phases.findIndex((p) => p.name === opts.from);
  const after = opts.recovered === undefined ? -1 : phases.findIndex((p) => p.name === opts.recovered);
  const counted = start < 0 ? [] : phases.slice(start);
  return {
    sent: counted.reduce((n, p) => n + p[loop].requests, 0),
    failed: counted.reduce((n, p) => n + p[loop].failures, 0),
    failedAfterRecovery: after < 0 ? 0 : phases.slice(after).reduce((n, p) => n + p[loop].failures, 0),
  };
}
