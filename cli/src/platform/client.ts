import { z } from 'zod';
import { Problem } from '@sidecar/core/wire';
import { ApiError, CliError, ExitCode } from '../errors.js';
import type { Target } from './contexts.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface SendOptions {
  /** A JSON body, or raw bytes with their `contentType`. */
  json?: unknown;
  body?: BodyInit;
  contentType?: string;
  contentLength?: number;
  accept?: string;
  signal?: AbortSignal;
}

/**
 * The platform's REST API (docs/api.md) with the CLI's token. Answers are checked against the wire
 * schemas the API is documented with; problem+json answers become ApiError (one line and the code).
 */
export class ApiClient {
  constructor(readonly target: Pick<Target, 'api' | 'token'>) {}

  /** A request whose JSON answer has the shape `schema`. */
  async json<S extends z.ZodType>(
    method: Method,
    path: string,
    schema: S,
    opts: SendOptions = {},
  ): Promise<z.output<S>> {
    const res = await this.send(method, path, { accept: 'application/json', ...opts });
    const parsed = schema.safeParse(await res.json());
    if (!parsed.success) {
      throw new CliError(
        `the API answered ${method} ${path} with an unexpected shape (is the CLI older than the platform?): ${parsed.error.message}`,
        ExitCode.failed,
      );
    }
    return parsed.data;
  }

  /** A request whose answer is not needed beyond its success (a 204). */
  async call(method: Method, path: string, opts: SendOptions = {}): Promise<void> {
    const res = await this.send(method, path, opts);
    await res.body?.cancel();
  }

  /** The response of a successful request, its body unread; any error answer throws. */
  async send(method: Method, path: string, opts: SendOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.target.token}` };
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.contentType) headers['content-type'] = opts.contentType;
    if (opts.contentLength !== undefined) headers['content-length'] = String(opts.contentLength);
    if (opts.accept) headers.accept = opts.accept;
    const url = `${this.target.api}/api/v1${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        // A streamed body (an upload) needs half duplex.
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      } as RequestInit);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach the API at ${this.target.api}: ${cause?.code ?? cause?.message ?? String(e)}`,
        ExitCode.failed,
        { cause: e },
      );
    }
    if (res.ok) return res;
    throw await problemOf(res);
  }

  /** The lines of a streamed text answer (a followed log) as they arrive, until it ends or `signal` aborts. */
  async *lines(path: string, signal?: AbortSignal): AsyncGenerator<string> {
    const res = await this.send('GET', path, { accept: 'text/plain', ...(signal ? { signal } : {}) });
    if (!res.body) return;
    let partial = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        partial += decoder.decode(chunk, { stream: true });
        const lines = partial.split('\n');
        partial = lines.pop()!;
        yield* lines;
      }
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    if (partial) yield partial;
  }
}

/** Problem details, with any code: a newer platform may answer codes this CLI does not know yet. */
const AnyProblem = Problem.pick({ detail: true }).extend({ code: z.string() });

async function problemOf(res: Response): Promise<CliError> {
  const text = await res.text();
  try {
    const p = AnyProblem.safeParse(JSON.parse(text));
    if (p.success) return new ApiError({ status: res.status, code: p.data.code, detail: p.data.detail });
  } catch {
    // Not JSON: a proxy or a server that is not the platform's API.
  }
  return new ApiError({
    status: res.status,
    code: `http_${res.status}`,
    detail: text.trim().slice(0, 200) || res.statusText,
  });
}
