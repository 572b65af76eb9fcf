import { setTimeout as delay } from 'node:timers/promises';
import type { Watch } from '@kubernetes/client-node';
import { DomainError, ErrorCode } from '@sidecar/core';

/**
 * Waits for a condition over a Kubernetes watch, the way client-go's `UntilWithSync` does:
 * read the current state (list/get), decide; else watch from that resourceVersion and decide
 * on each event. A watch that ends (the server's timeout) or expires (410 Gone) is resumed
 * from a fresh read; watch errors are retried up to `maxErrors` in a row, then fail
 * (retryable: the deploy is tried again). The signal aborts the open watch at once.
 */
export interface WatchUntilOptions<T> {
  watch: Watch;
  /** Collection path, e.g. `/apis/apps/v1/namespaces/ns/deployments`. */
  path: string;
  query: Record<string, string>;
  /** Reads the current state: its resourceVersion, and the result if already decided. */
  sync: () => Promise<{ resourceVersion: string; result: T | undefined }>;
  /** Decides on one event (ADDED, MODIFIED, DELETED, BOOKMARK): a result ends the wait; throwing fails it. */
  onEvent: (type: string, object: Record<string, unknown>) => T | undefined;
  signal: AbortSignal;
  /** What is being waited for, for error messages. */
  what: string;
  maxErrors?: number;
  /** Seconds the server keeps one watch open before it ends it (then we resume). */
  timeoutSeconds?: number;
}

type Round<T> = { kind: 'result'; value: T } | { kind: 'resync' } | { kind: 'error'; error: unknown };
/** A watch that ends this soon without a single event is treated as failing, so a broken server cannot make us spin. */
const EMPTY_ROUND_MS = 1000;

export async function watchUntil<T>(opts: WatchUntilOptions<T>): Promise<T> {
  const maxErrors = opts.maxErrors ?? 5;
  let errors = 0;
  for (;;) {
    opts.signal.throwIfAborted();
    const { resourceVersion, result } = await opts.sync();
    if (result !== undefined) return result;
    const round = await watchRound(opts, resourceVersion);
    if (round.kind === 'result') return round.value;
    if (round.kind === 'resync') {
      errors = 0;
      continue;
    }
    opts.signal.throwIfAborted();
    if (round.error instanceof DomainError) throw round.error;
    if (++errors >= maxErrors) {
      const detail = round.error instanceof Error ? round.error.message : JSON.stringify(round.error);
      throw new DomainError(
        ErrorCode.deployFailed,
        `watching ${opts.what} failed ${errors} times in a row: ${detail}`,
        { retryable: true, cause: round.error },
      );
    }
    await delay(Math.min(100 * 2 ** errors, 5000), undefined, { signal: opts.signal }); // back off before watching again
  }
}

function watchRound<T>(opts: WatchUntilOptions<T>, resourceVersion: string): Promise<Round<T>> {
  const started = Date.now();
  let events = 0;
  return new Promise<Round<T>>((resolve) => {
    let settled = false;
    let controller: AbortController | undefined;
    const finish = (r: Round<T>) => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      controller?.abort();
      resolve(r);
    };
    const onAbort = () => finish({ kind: 'error', error: opts.signal.reason });
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const query = {
      ...opts.query,
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(opts.timeoutSeconds ?? 300),
    };
    opts.watch
      .watch(
        opts.path,
        query,
        (type, object: Record<string, unknown>) => {
          if (settled) return;
          events++;
          if (type === 'ERROR') {
            // A Status object: 410 Gone means our resourceVersion is too old: read again.
            const status = object as { code?: number; message?: string };
            finish(
              status.code === 410
                ? { kind: 'resync' }
                : {
                    kind: 'error',
                    error: new Error(`watch error ${status.code ?? ''}: ${status.message ?? 'unknown'}`),
                  },
            );
            return;
          }
          try {
            const value = opts.onEvent(type, object);
            if (value !== undefined) finish({ kind: 'result', value });
          } catch (error) {
            finish({ kind: 'error', error });
          }
        },
        // null: the server closed the watch normally (its timeout): resume from a fresh read.
        (err: unknown) => {
          if (err) finish({ kind: 'error', error: err });
          else if (events === 0 && Date.now() - started < EMPTY_ROUND_MS)
            finish({ kind: 'error', error: new Error('the watch closed at once without an event') });
          else finish({ kind: 'resync' });
        },
      )
      .then((c) => {
        controller = c;
        if (settled) c.abort();
      })
      .catch((error: unknown) => finish({ kind: 'error', error }));
  });
}
