import { expect } from 'vitest';
import { tgzOf } from './bundles.js';
import { createApp, deploy } from './deploys.js';
import type { RunningPlatform } from './platform.js';

/**
 * The witnesses of an abuse test file: an app of another tenant that must keep serving while the
 * attacks run, and the API that must keep answering. Start it before the first attack, check it after
 * the last (`expectUnharmed`). Both loops are bounded in count and time and paced, so on a 2-core
 * machine they watch without becoming a load of their own.
 */
export interface BystanderOptions {
  /** App name of the bystander; default `bystander`. */
  app?: string;
  /** Upper bound on how long the loops run; default 15 min (a whole abuse file). */
  maxMs?: number;
  /** Pause between two requests of one loop; default 50 ms for the app, 200 ms for the API. */
  appIntervalMs?: number;
  apiIntervalMs?: number;
  /** An API answer slower than this counts as a failure (the API stopped responding); default 10 s. */
  apiTimeoutMs?: number;
}

export interface BystanderReport {
  app: string;
  appRequests: number;
  appFailures: string[];
  apiRequests: number;
  apiFailures: string[];
  /** The same requests split by the phases marked with `phase()` (the first is `start`). */
  phases: PhaseReport[];
}

/** What one loop saw during one phase; times are epoch milliseconds. */
export interface LoopPhase {
  requests: number;
  failures: number;
  firstFailureAt: number | null;
  lastFailureAt: number | null;
  /** The first success after the phase's last failure (after its start if none failed): when it was fine again. */
  fineAgainAt: number | null;
}

export interface PhaseReport {
  name: string;
  startedAt: number;
  endedAt: number;
  app: LoopPhase;
  api: LoopPhase;
}

export interface Bystander {
  readonly app: string;
  /** Starts a phase (e.g. `fault`, `after`): requests that begin from now on are counted under `name`. */
  phase(name: string): void;
  /** What the loops saw so far, without stopping them. */
  report(): BystanderReport;
  /** Stops both loops (waiting for requests in flight) and returns what they saw. */
  stop(): Promise<BystanderReport>;
}

/** One request of a loop: when it began, whether it succeeded, and why not. */
interface Sample {
  at: number;
  ok: boolean;
  why?: string;
}

/** What the bystander app answers; a redeploy of it (a chaos test's) must answer the same. */
export const BYSTANDER_BODY = 'bystander still here';
const BODY = BYSTANDER_BODY;
const MAX_REQUESTS = 50_000;
/** Requests each loop makes at least before stop() ends it: expectUnharmed's proof that the loops really ran. */
const MIN_REQUESTS = 11;

/** Deploys the bystander app and starts watching it and the API. */
export async function startBystander(p: RunningPlatform, opts: BystanderOptions = {}): Promise<Bystander> {
  const app = opts.app ?? 'bystander';
  await createApp(p, app);
  const { deploy: d, log } = await deploy(
    p,
    app,
    await tgzOf({ 'index.js': `module.exports = (req, res) => res.end(${JSON.stringify(BODY)});` }),
  );
  if (d.status !== 'succeeded') throw new Error(`the bystander did not deploy:\n${log}`);

  const deadline = Date.now() + (opts.maxMs ?? 15 * 60_000);
  let stopped = false;
  const pause = new PausableWait();
  const running = () => !stopped && Date.now() < deadline;
  // Woken after every request of either loop (stop() waits on it for the loops' minimum).
  const progress = new Set<() => void>();
  const looked = () => {
    for (const wake of [...progress]) wake();
  };

  const appSamples: Sample[] = [];
  const appLoop = (async () => {
    while (running() && appSamples.length < MAX_REQUESTS) {
      const at = Date.now();
      try {
        const r = await p.get(app);
        const ok = r.status === 200 && r.body === BODY;
        appSamples.push(ok ? { at, ok } : { at, ok, why: `${r.status} ${r.body.slice(0, 200)}` });
      } catch (e) {
        appSamples.push({ at, ok: false, why: (e as Error).message });
      }
      looked();
      await pause.for(opts.appIntervalMs ?? 50);
    }
  })();

  const apiSamples: Sample[] = [];
  const apiTimeout = opts.apiTimeoutMs ?? 10_000;
  const apiLoop = (async () => {
    while (running() && apiSamples.length < MAX_REQUESTS) {
      const at = Date.now();
      try {
        const r = await fetch(`${p.api}/healthz`, { signal: AbortSignal.timeout(apiTimeout) });
        apiSamples.push(r.status === 200 ? { at, ok: true } : { at, ok: false, why: `/healthz ${r.status}` });
        await r.body?.cancel();
      } catch (e) {
        apiSamples.push({ at, ok: false, why: `/healthz ${(e as Error).message}` });
      }
      looked();
      await pause.for(opts.apiIntervalMs ?? 200);
    }
  })();

  const marks: Array<{ name: string; at: number }> = [{ name: 'start', at: Date.now() }];
  const report = (): BystanderReport => {
    const failures = (samples: Sample[]) =>
      samples.filter((x) => !x.ok).map((x) => `${new Date(x.at).toISOString()} ${x.why ?? ''}`);
    const now = Date.now();
    const phases = marks.map((m, i) => {
      const endedAt = marks[i + 1]?.at ?? now;
      const within = (samples: Sample[]) => samples.filter((x) => x.at >= m.at && x.at < endedAt);
      return {
        name: m.name,
        startedAt: m.at,
        endedAt,
        app: loopPhase(within(appSamples)),
        api: loopPhase(within(apiSamples)),
      };
    });
    return {
      app,
      appRequests: appSamples.length,
      appFailures: failures(appSamples),
      apiRequests: apiSamples.length,
      apiFailures: failures(apiSamples),
      phases,
    };
  };

  return {
    app,
    phase(name) {
      marks.push({ name, at: Date.now() });
    },
    report,
    async stop() {
      // A quick abuse file can end before the paced loops looked often enough (a 200 ms API loop made 4 requests
      // on a fast machine): they go on at their pace until each has, watching the moments after the attacks too.
      // At most 15 s more: a test that failed with the API stalled must not hold its afterAll for 11 timeouts.
      const waitUntil = Date.now() + 15_000;
      const enough = () =>
        !running() ||
        Date.now() > waitUntil ||
        (appSamples.length >= MIN_REQUESTS && apiSamples.length >= MIN_REQUESTS);
      const ended = Promise.all([appLoop, apiLoop]); // at their deadline or request limit
      while (!enough()) {
        await Promise.race([new Promise<void>((resolve) => progress.add(resolve)), ended]);
        progress.clear();
      }
      stopped = true;
      pause.cancel();
      await ended;
      return report();
    },
  };
}

function loopPhase(samples: Sample[]): LoopPhase {
  const failed = samples.filter((x) => !x.ok);
  const lastFailureAt = failed.at(-1)?.at ?? null;
  const fineAgain = samples.find((x) => x.ok && (lastFailureAt === null || x.at > lastFailureAt));
  return {
    requests: samples.length,
    failures: failed.length,
    firstFailureAt: failed[0]?.at ?? null,
    lastFailureAt,
    fineAgainAt: fineAgain?.at ?? null,
  };
}

/** The check every abuse file ends with: the other tenant saw nothing, the API never stopped answering. */
export function expectUnharmed(report: BystanderReport): void {
  expect(report.appFailures, `requests to ${report.app} that failed`).toEqual([]);
  expect(report.apiFailures, 'API health checks that failed or timed out').toEqual([]);
  // The loops really ran (a watcher that never looked proves nothing).
  expect(report.appRequests).toBeGreaterThanOrEqual(MIN_REQUESTS);
  expect(report.apiRequests).toBeGreaterThanOrEqual(MIN_REQUESTS);
}

/** The pacing between two requests, cut short when the watch stops (so stop() never waits a full interval). */
class PausableWait {
  private wakers = new Set<() => void>();
  for(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
  cancel(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
