import type { RunningPlatform } from '../../support/platform.js';

/** One API answer: when it was asked, how long it took, its status and problem code (0 / null: no answer). */
export interface ApiSample {
  at: number;
  ms: number;
  status: number;
  code: string | null;
}

/**
 * A paced, bounded loop of one API request (e.g. an authenticated read that needs Redis, or /readyz),
 * recording every answer with its latency: a chaos test asks what it saw during and after a fault.
 */
export class ApiWatch {
  readonly samples: ApiSample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    p: RunningPlatform,
    path: string,
    opts: { intervalMs?: number; timeoutMs?: number; maxMs?: number; auth?: boolean } = {},
  ) {
    const deadline = Date.now() + (opts.maxMs ?? 5 * 60_000);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    this.loop = (async () => {
      while (!this.stopped && Date.now() < deadline && this.samples.length < 20_000) {
        const at = Date.now();
        try {
          const init = { signal: AbortSignal.timeout(timeoutMs) };
          const res = opts.auth === false ? await fetch(`${p.api}${path}`, init) : await p.api$(path, init);
          const text = await res.text();
          this.samples.push({ at, ms: Date.now() - at, status: res.status, code: problemCode(text) });
        } catch {
          this.samples.push({ at, ms: Date.now() - at, status: 0, code: null });
        }
        await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
      }
    })();
  }

  /** Samples asked within [from, to). */
  between(from: number, to = Infinity): ApiSample[] {
    return this.samples.filter((s) => s.at >= from && s.at < to);
  }

  /** The first sample asked at or after `from` that answered `status` and every later one did too. */
  settledAt(from: number, status: number): number | null {
    const after = this.between(from);
    let i = after.length;
    while (i > 0 && after[i - 1]!.status === status) i--;
    return after[i]?.at ?? null;
  }

  async stop(): Promise<ApiSample[]> {
    this.stopped = true;
    await this.loop;
    return this.samples;
  }
}

function problemCode(text: string): string | null {
  try {
    const v = JSON.parse(text) as { code?: unknown };
    return typeof v.code === 'string' ? v.code : null;
  } catch {
    return null;
  }
}
