import type { Request, Response } from 'express';
import type { Stores } from '@sidecar/store';
import { admitFollower, beginStream, clientSignal, write } from './log-stream.js';

/**
 * Writes a deploy's log: everything so far, then (when following) new lines as they arrive until the
 * deploy's `end` entry. Followers share the process's one stream reader; a client that goes away ends
 * the follow at once, even while its writes wait for it to read.
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
  if (follow) admitFollower(req, res);
  beginStream(res, sse);
  const signal = clientSignal(res);
  const line = (text: string) => (sse ? `event: line\ndata: ${JSON.stringify(text)}\n\n` : `${text}\n`);
  try {
    if (!follow) {
      let cursor = '0';
      for (let page = await stores.deployLog.read(deployId, cursor); page.length > 0;) {
        for (const e of page) if (e.kind === 'line' && !(await write(res, line(e.line), signal))) return;
        cursor = page.at(-1)!.id;
        page = await stores.deployLog.read(deployId, cursor);
      }
      return;
    }
    for await (const page of stores.deployLog.follow(deployId, signal)) {
      if (page.length === 0 && sse && !(await write(res, ': keep-alive\n\n', signal))) return;
      for (const e of page) {
        if (e.kind === 'end') {
          if (sse) await write(res, `event: end\ndata: ${JSON.stringify({ status: e.status })}\n\n`, signal);
          return;
        }
        if (!(await write(res, line(e.line), signal))) return;
      }
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  } finally {
    if (!signal.aborted) res.end();
  }
}
