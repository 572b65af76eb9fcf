import { once } from 'node:events';
import type { Request, Response } from 'express';
import type { Stores } from '@sidecar/store';

/**
 * Writes a deploy's log: everything so far, then (when following) new lines as
 * they arrive until the deploy's `end` entry. A following reader gets its own
 * Redis connection, because XREAD BLOCK holds the connection it runs on.
 */
export async function streamDeployLog(opts: {
  req: Request;
  res: Response;
  stores: Stores;
  deployId: string;
  follow: boolean;
  sse: boolean;
}): Promise<void> {
  const { req, res, stores, deployId, follow, sse } = opts;
  res.status(200);
  if (sse) {
    res.set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  } else {
    res.type('text/plain; charset=utf-8');
  }
  res.flushHeaders();

  const reader = follow ? stores.redis.duplicate() : undefined;
  let gone = false;
  req.on('close', () => {
    gone = true;
    reader?.disconnect();
  });
  let cursor = '0';
  try {
    while (!gone) {
      const entries = await stores.deployLog.read(deployId, cursor, follow ? 15_000 : undefined, reader);
      for (const e of entries) {
        cursor = e.id;
        if (e.kind === 'line') {
          // Backpressure: wait for a slow reader instead of buffering for it (the stream in Redis is the buffer).
          if (!res.write(sse ? `event: line\ndata: ${JSON.stringify(e.line)}\n\n` : `${e.line}\n`)) {
            await Promise.race([once(res, 'drain'), once(res, 'close')]);
          }
        } else {
          if (sse) res.write(`event: end\ndata: ${JSON.stringify({ status: e.status })}\n\n`);
          return;
        }
      }
      if (!follow && entries.length === 0) return;
      if (sse && entries.length === 0) res.write(': keep-alive\n\n');
    }
  } catch (e) {
    if (!gone) throw e;
  } finally {
    if (reader && !gone) reader.disconnect();
    if (!gone) res.end();
  }
}
