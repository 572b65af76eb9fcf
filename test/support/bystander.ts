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
}

export interface Bystander {
  readonly app: string;
  /** Stops both loops (waiting for requests in flight) and returns what they saw. */
  stop(): Promise<BystanderReport>;
}

const BODY = 'bystander still here';
const MAX_REQUESTS = 50_000;

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

  const appFailures: string[] = [];
  let appRequests = 0;
  const appLoop = (async () => {
    while (running() && appRequests < MAX_REQUESTS) {
      appRequests++;
      try {
        const r = await p.get(app);
        if (r.status !== 200 || r.body !== BODY)
          appFailures.push(`${new Date().toISOString()} ${r.status} ${r.body.slice(0, 200)}`);
      } catch (e) {
        appFailures.push(`${new Date().toISOString()} ${(e as Error).message}`);
      }
      await pause.for(opts.appIntervalMs ?? 50);
    }
  })();

  const apiFailures: string[] = [];
  let apiRequests = 0;
  const apiTimeout = opts.apiTimeoutMs ?? 10_000;
  const apiLoop = (async () => {
    while (running() && apiRequests < MAX_REQUESTS) {
      apiRequests++;
      try {
        const r = await fetch(`${p.api}/healthz`, { signal: AbortSignal.timeout(apiTimeout) });
        if (r.status !== 200) apiFailures.push(`${new Date().toISOString()} /healthz ${r.status}`);
        await r.body?.cancel();
      } catch (e) {
        apiFailures.push(`${new Date().toISOString()} /healthz ${(e as Error).message}`);
      }
      await pause.for(opts.apiIntervalMs ?? 200);
    }
  })();

  return {
    app,
    async stop() {
      stopped = true;
      pause.cancel();
      await Promise.all([appLoop, apiLoop]);
      return { app, appRequests, appFailures, apiRequests, apiFailures };
    },
  };
}

/** The check every abuse file ends with: the other tenant saw nothing, the API never stopped answering. */
export function expectUnharmed(report: BystanderReport): void {
  expect(report.appFailures, `requests to ${report.app} that failed`).toEqual([]);
  expect(report.apiFailures, 'API health checks that failed or timed out').toEqual([]);
  // The loops really ran (a watcher that never looked proves nothing).
  expect(report.appRequests).toBeGreaterThan(10);
  expect(report.apiRequests).toBeGreaterThan(10);
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
