import type { Request, Response } from 'express';
import { DomainError, ErrorCode } from '@sidecar/core';

/** Followed logs (deploy logs and app logs) open at once in this API process, then 429. */
export const MAX_FOLLOWERS_PER_PROCESS = 500;
/** Followed logs one token may hold open at once, then 429. */
export const MAX_FOLLOWERS_PER_TOKEN = 20;
/**
 * App-log reads (`?tail=N`, up to 4 MiB each) in flight at once per process and per token, then 429: each
 * holds its lines in memory until the client has taken them, so a tenant asking for many and never reading
 * would otherwise hold the API's memory.
 */
export const MAX_TAIL_READS_PER_PROCESS = 32;
export const MAX_TAIL_READS_PER_TOKEN = 4;

/** What one token and the whole process hold at once, against a cap for each. */
class Slots {
  private readonly open = new Map<string, number>();
  private total = 0;
  constructor(
    private readonly caps: { perProcess: number; perToken: number; processFull: string; tokenFull: string },
  ) {}

  /** One slot for `token`, or 429 naming the cap; the returned function gives it back (once, however often called). */
  take(token: string): () => void {
    const mine = this.open.get(token) ?? 0;
    if (this.total >= this.caps.perProcess) throw new DomainError(ErrorCode.rateLimited, this.caps.processFull);
    if (mine >= this.caps.perToken) throw new DomainError(ErrorCode.rateLimited, this.caps.tokenFull);
    this.total++;
    this.open.set(token, mine + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.total--;
      const n = (this.open.get(token) ?? 1) - 1;
      if (n > 0) this.open.set(token, n);
      else this.open.delete(token);
    };
  }
}

const followers = new Slots({
  perProcess: MAX_FOLLOWERS_PER_PROCESS,
  perToken: MAX_FOLLOWERS_PER_TOKEN,
  processFull: `too many log followers on this API process (${MAX_FOLLOWERS_PER_PROCESS}); try again shortly or read without follow`,
  tokenFull: `this token already follows ${MAX_FOLLOWERS_PER_TOKEN} logs; close one first`,
});
const tailReads = new Slots({
  perProcess: MAX_TAIL_READS_PER_PROCESS,
  perToken: MAX_TAIL_READS_PER_TOKEN,
  processFull: `too many log reads on this API process (${MAX_TAIL_READS_PER_PROCESS}); try again shortly`,
  tokenFull: `this token already reads ${MAX_TAIL_READS_PER_TOKEN} logs at once; read them to the end first`,
});

/**
 * Admits one follower of a log for the request's token, or answers 429 naming the limit. The slot
 * is given back when the response closes, however it ends.
 */
export function admitFollower(req: Request, res: Response): void {
  res.once('close', followers.take(req.tokenId ?? 'anonymous'));
}

/** Admits one read of past log lines (not followed) for the request's token, until its response closes; else 429. */
export function admitTailRead(req: Request, res: Response): void {
  res.once('close', tailReads.take(req.tokenId ?? 'anonymous'));
}

/** Aborts when the client goes away (or the response ends): a follow stops at once. */
export function clientSignal(res: Response): AbortSignal {
  const ac = new AbortController();
  if (res.destroyed || res.writableFinished) ac.abort();
  else res.once('close', () => ac.abort());
  return ac.signal;
}

/**
 * Writes with backpressure: a client that does not read is not buffered for (the Redis stream is the
 * buffer). False once the client has gone, including while waiting for it to drain.
 */
export async function write(res: Response, chunk: string, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (res.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
  return !signal.aborted;
}

/** Starts a streamed response: server-sent events, or plain text. */
export function beginStream(res: Response, sse: boolean): void {
  res.status(200);
  if (sse) res.set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  else res.type('text/plain; charset=utf-8');
  res.flushHeaders();
}
