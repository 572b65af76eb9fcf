import { Router, type Request, type Response } from 'express';
import { AppLogsQuery, isFollow, parseInput, sinceToMs } from '@sidecar/core/wire';
import type { AppLogLine, Stores } from '@sidecar/store';
import { admitFollower, admitTailRead, beginStream, clientSignal, write } from './log-stream.js';
import { appParam } from './params.js';

/** `?tail=N` returns at most this many bytes of lines (the newest ones), whatever N is. */
export const MAX_TAIL_BYTES = 4 * 1024 * 1024;

/**
 * `2026-11-27T17:00:00.123456789Z hello-v2-x7k2q/runtime listening`, and for a line of a
 * file under /var/log/app (shipped by the `logs` sidecar) `... hello-v2-x7k2q/runtime/app.log GET / 200`.
 */
const asText = (l: AppLogLine) =>
  `${l.time} ${l.pod}/${l.container}${l.file !== undefined ? `/${l.file}` : ''} ${l.line}\n`;

/**
 * GET /apps/:app/logs — runtime and sidecar logs from the app's log stream
 * (kept across pods, redeploys and rollbacks): `?tail=N` (default 100),
 * `?container=NAME`, `?release=N`, `?since=TIME|15m`, `?follow=true`; text/plain, or server-sent events
 * (`event: line`, data = the line as JSON) with `Accept: text/event-stream`,
 * or `{items}` with `Accept: application/json`.
 */
export function logsRoutes(deps: { stores: Stores }): Router {
  const r = Router();
  r.get('/apps/:app/logs', async (req, res) => {
    const app = appParam(req);
    await deps.stores.apps.get(app);
    const q = parseInput(AppLogsQuery, req.query);
    const { tail } = q;
    // Given empty (`?container=`) is the same as not given.
    const container = q.container || undefined;
    const release = q.release || undefined;
    const sinceMs = q.since ? sinceToMs(q.since, Date.now()) : undefined;
    const keep = (l: AppLogLine) => (!container || l.container === container) && (!release || l.release === release);
    const accept = req.get('accept') ?? '';
    const sse = accept.includes('text/event-stream');
    const follow = sse || isFollow(q.follow);
    // A follow's past lines count against its follower slot; a plain read has slots of its own.
    if (follow) admitFollower(req, res);
    else admitTailRead(req, res);
    const past = capBytes(
      // Read no more than the answer may hold: a full log is ~50 MB, never read whole for one request.
      await deps.stores.appLogs.tail(app, {
        n: tail,
        keep,
        maxBytes: MAX_TAIL_BYTES,
        ...(sinceMs !== undefined ? { sinceMs } : {}),
      }),
    );
    if (!follow && accept.includes('application/json')) {
      res.json({ items: past });
      return;
    }
    await stream({ req, res, stores: deps.stores, app, keep, past, follow, sse });
  });
  return r;
}

/** The newest lines of `lines` (oldest first) that fit in MAX_TAIL_BYTES. */
function capBytes(lines: AppLogLine[]): AppLogLine[] {
  let bytes = 0;
  let i = lines.length;
  while (i > 0) {
    bytes += Buffer.byteLength(lines[i - 1]!.line) + 128; // the line and its metadata, roughly
    if (bytes > MAX_TAIL_BYTES) break;
    i--;
  }
  return i === 0 ? lines : lines.slice(i);
}

async function stream(o: {
  req: Request;
  res: Response;
  stores: Stores;
  app: string;
  keep: (l: AppLogLine) => boolean;
  past: AppLogLine[];
  follow: boolean;
  sse: boolean;
}): Promise<void> {
  const { res } = o;
  // Where following begins is read before the headers go out: a client that acts once it has them
  // (e.g. sends the request whose log line it waits for) must not have that line fall before the cursor.
  const cursor = o.follow ? (o.past.at(-1)?.id ?? (await o.stores.appLogs.lastId(o.app))) : undefined;
  beginStream(res, o.sse);
  const signal = clientSignal(res);
  const text = (l: AppLogLine) => (o.sse ? `event: line\ndata: ${JSON.stringify(l)}\n\n` : asText(l));
  try {
    for (const l of o.past) if (!(await write(res, text(l), signal))) return;
    if (cursor === undefined) return;
    for await (const page of o.stores.appLogs.follow(o.app, cursor, signal)) {
      if (page.length === 0) {
        // Quiet for a while: end the follow if the app was deleted meanwhile.
        if (!(await o.stores.apps.find(o.app))) return;
        if (o.sse && !(await write(res, ': keep-alive\n\n', signal))) return;
      }
      for (const l of page) if (o.keep(l) && !(await write(res, text(l), signal))) return;
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  } finally {
    if (!signal.aborted) res.end();
  }
}
