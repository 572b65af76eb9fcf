import { spawn } from 'node:child_process';
import type { Request, Response } from 'express';
import type { Log } from '@sidecar/core';
import { gitEnv } from './git-env.js';
import type { GitSettings } from './git-settings.js';

export interface BackendCall {
  req: Request;
  res: Response;
  /** `/<app>.git/info/refs`, `/<app>.git/git-receive-pack`, ...: built by the caller from a validated name. */
  pathInfo: string;
  /** The query git http-backend sees; only `service=...` is ever passed on. */
  query: string;
  /** Who is pushing, for git's reflog; receive-pack refuses to run without one. */
  remoteUser: string;
  /** More environment for the process tree (the push session's hook secret). */
  env?: Record<string, string>;
  /** Where git's own complaints (its stderr) go. */
  log: Log;
}

/**
 * Serves one smart-HTTP request with git's own `git http-backend` (CGI): the request body is
 * streamed to it, its `Status:` and other headers become the response's, and the rest of its
 * output is streamed back as it comes (during a push, that includes the hook's `remote:` lines).
 * Resolves once the process tree has exited.
 */
export function runHttpBackend(s: GitSettings, call: BackendCall): Promise<void> {
  const { req, res } = call;
  const encoding = req.get('content-encoding');
  const protocol = req.get('git-protocol');
  const env = gitEnv(s, {
    GIT_PROJECT_ROOT: s.root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: call.pathInfo,
    REQUEST_METHOD: req.method,
    QUERY_STRING: call.query,
    CONTENT_TYPE: req.get('content-type') ?? '',
    REMOTE_USER: call.remoteUser,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    // git http-backend inflates gzip bodies itself (git sends them for large fetch negotiations).
    ...(encoding ? { HTTP_CONTENT_ENCODING: encoding } : {}),
    ...(req.get('content-length') ? { CONTENT_LENGTH: req.get('content-length')! } : {}),
    // Protocol v2 is negotiated through this header; only its plain `key=value:...` form is passed on.
    ...(protocol && /^[A-Za-z0-9=:._-]{1,200}$/.test(protocol) ? { GIT_PROTOCOL: protocol } : {}),
    ...call.env,
  });
  // Its own process group, so a client that goes away takes receive-pack and the hook down with it.
  const child = spawn(s.httpBackend, [], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  child.stdin.on('error', () => undefined); // it may exit before reading the whole body (an error answer)
  req.pipe(child.stdin);

  let head = Buffer.alloc(0);
  let inBody = false;
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const end = headerEnd(head);
    if (end === null) {
      if (head.length > 64 * 1024) child.kill('SIGTERM');
      return;
    }
    inBody = true;
    child.stdout.off('data', onData);
    applyCgiHeaders(res, head.subarray(0, end.at).toString('latin1'));
    const rest = head.subarray(end.at + end.length);
    if (rest.length) res.write(rest);
    res.flushHeaders();
    child.stdout.pipe(res);
  };
  child.stdout.on('data', onData);

  const killTree = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  };
  res.on('close', () => {
    if (!res.writableFinished) killTree();
  });

  return new Promise((resolve) => {
    child.once('error', (e) => {
      stderr += e.message;
    });
    child.once('close', (code) => {
      if (stderr.trim()) call.log.warn({ path: call.pathInfo, stderr: stderr.trim() }, 'git http-backend');
      if (!inBody && !res.headersSent) {
        res
          .status(502)
          .type('text/plain')
          .send(`git http-backend failed (${code ?? 'not started'}); see the platform log\n`);
      } else if (!res.writableEnded) {
        res.end();
      }
      resolve();
    });
  });
}

function headerEnd(buf: Buffer): { at: number; length: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, length: 4 };
  if (lf !== -1) return { at: lf, length: 2 };
  return null;
}

function applyCgiHeaders(res: Response, block: string): void {
  for (const line of block.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') res.status(Number.parseInt(value, 10) || 500);
    else res.setHeader(name, value);
  }
}
