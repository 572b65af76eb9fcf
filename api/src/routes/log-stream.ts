import type { Request, Response } from 'express';
import { DomainError, ErrorCode } from '@sidecar/core';

/** Followed logs (deploy logs and app logs) open at once in this API process, then 429. */
export const MAX_FOLLOWERS_PER_PROCESS = 500;
/** Followed logs one token may hold open at once, then 429. */
export const MAX_FOLLOWERS_PER_TOKEN = 20;

const open = new Map<string, number>();
let total = 0;

/**
 * Admits one follower of a log for the request's token, or answers 429 naming the limit. The slot
 * is given back when the response closes, however it ends.
 */
export function admitFollower(req: Request, res: Response): void {
  const token = req.tokenId ?? 'anonymous';
  const mine = open.get(token) ?? 0;
  if (total >= MAX_FOLLOWERS_PER_PROCESS) {
    throw new DomainError(
      ErrorCode.rateLimited,
      `too many log followers on this API process (${MAX_FOLLOWERS_PER_PROCESS}); try again shortly or read without follow`,
    );
  }
  if (mine >= MAX_FOLLOWERS_PER_TOKEN) {
    throw new DomainError(
      ErrorCode.rateLimited,
      `this token already follows ${MAX_FOLLOWERS_PER_TOKEN} logs; close one first`,
    );
  }
  total++;
  open.set(token, mine + 1);
  res.once('close', () => {
    total--;
    const n = (open.get(token) ?? 1) - 1;
    if (n > 0) open.set(token, n);
    else open.delete(token);
  });
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
