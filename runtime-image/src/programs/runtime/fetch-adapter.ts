/**
 * Adapts a Web-standard `{ fetch(request) }` handler to a Node request listener:
 * Node request → `Request` (method, headers, URL from Host, streamed body) and
 * `Response` → status, headers, streamed body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface FetchHandler {
  fetch(request: Request): Response | Promise<Response>;
}

export function toWebRequest(req: IncomingMessage, fallbackHost: string, signal: AbortSignal): Request {
  const host = req.headers.host ?? fallbackHost;
  const url = new URL(req.url ?? '/', `http://${host}`);
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    // HTTP/2-style pseudo headers are not valid Headers names.
    if (!name.startsWith(':')) headers.append(name, req.rawHeaders[i + 1]!);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (hasBody) {
    init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    init.duplex = 'half'; // required by undici for a streamed request body
  }
  return new Request(url, init);
}

export async function writeWebResponse(response: Response, res: ServerResponse, method: string): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue; // joined by Headers iteration; set separately below
    res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (!response.body || method === 'HEAD') {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), res);
}

export function fetchListener(handler: FetchHandler, fallbackHost: string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const aborter = new AbortController();
    // The client went away before we answered: let the handler stop its work.
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    let request: Request;
    try {
      request = toWebRequest(req, fallbackHost, aborter.signal);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request\n');
      return;
    }
    const response = await handler.fetch(request);
    if (!(response instanceof Response)) throw new Error('fetch handler did not return a Response');
    await writeWebResponse(response, res, request.method);
  };
}
