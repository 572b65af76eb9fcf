import { errorText } from '@sidecar/core';
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { PodView } from '@sidecar/core';
import { CliError, ExitCode, ManifestError } from './errors.js';

/**
 * The control channel of a `sidecar pod run` process: a unix socket `<runDir>/<pod>.sock` (mode 0600,
 * in a 0700 directory) taking one newline-terminated JSON request per connection and answering one
 * JSON line. `pod get|delete` use it so that only the supervising process ever stops the pod's
 * containers: a second process stopping them would race the supervisor, which restarts exited sidecars
 * (NATIVE-SIDECARS rules 6 and 12).
 */
export type ControlRequest = { op: 'get' } | { op: 'delete'; gracePeriodSeconds?: number };
export type ControlReply = { status: PodView } | { deleted: true; status: PodView } | { error: string };

export interface ControlHandlers {
  status(): PodView;
  /** Resolves with the final status once the pod is deleted (containers and volumes removed). */
  delete(opts: { gracePeriodSeconds: number | undefined }): Promise<PodView>;
}

/** Linux `sun_path` holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const MAX_REQUEST_BYTES = 64 * 1024;
/** How long close() lets in-flight replies finish before dropping the connections. */
const CLOSE_WAIT_MS = 5000;

export function socketPath(runDir: string, pod: string): string {
  const path = join(runDir, `${pod}.sock`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new CliError(
      `control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; set SIDECAR_RUN_DIR to a shorter directory`,
      ExitCode.usage,
    );
  }
  return path;
}

/** The run directory must be ours alone: a socket in it controls a pod. */
async function ensureRunDir(runDir: string): Promise<void> {
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  const st = await lstat(runDir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new CliError(
      `${runDir} must be a directory owned by you with mode 0700 (set SIDECAR_RUN_DIR to use another)`,
      ExitCode.failed,
    );
  }
}

export interface ControlServer {
  readonly path: string;
  /** Stops accepting, lets in-flight replies finish (bounded), removes the socket file. Safe twice. */
  close(): Promise<void>;
}

export async function listenControl(opts: {
  runDir: string;
  pod: string;
  handlers: ControlHandlers;
}): Promise<ControlServer> {
  await ensureRunDir(opts.runDir);
  const path = socketPath(opts.runDir, opts.pod);
  const inFlight = new Set<Promise<void>>();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const work = serve(socket, opts.handlers);
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });
  try {
    await listen(server, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    if (await answers(path))
      throw new ManifestError(`pod "${opts.pod}" is already being run by another \`sidecar pod run\` (${path})`);
    // A socket left by a run process that died: nobody listens on it any more.
    await rm(path, { force: true });
    await listen(server, path);
  }
  await chmod(path, 0o600);
  let closing: Promise<void> | undefined;
  return {
    path,
    close: () => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const timer = setTimeout(() => sockets.forEach((s) => s.destroy()), CLOSE_WAIT_MS);
        await Promise.allSettled([...inFlight]);
        clearTimeout(timer);
        sockets.forEach((s) => s.destroy());
        await closed;
        await rm(path, { force: true });
      })();
      return closing;
    },
  };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** One request, one reply line. A handler's failure is the client's answer (and the caller's to report). */
async function serve(socket: Socket, handlers: ControlHandlers): Promise<void> {
  const reply = (r: ControlReply) =>
    new Promise<void>((resolve) => socket.end(`${JSON.stringify(r)}\n`, () => resolve()));
  let request: ControlRequest;
  try {
    request = parseRequest(await readLine(socket));
  } catch (e) {
    return reply({ error: errorText(e) });
  }
  if (request.op === 'get') return reply({ status: handlers.status() });
  let status: PodView;
  try {
    status = await handlers.delete({ gracePeriodSeconds: request.gracePeriodSeconds });
  } catch (e) {
    return reply({ error: `deleting the pod failed: ${errorText(e)}` });
  }
  return reply({ deleted: true, status });
}

function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(buf.slice(0, nl));
      else if (buf.length > MAX_REQUEST_BYTES) reject(new Error('request too long'));
    });
    socket.on('end', () => reject(new Error('no request line')));
    socket.on('error', reject);
  });
}

function parseRequest(line: string): ControlRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error('request is not JSON');
  }
  const r = v as { op?: unknown; gracePeriodSeconds?: unknown };
  if (r?.op === 'get') return { op: 'get' };
  if (r?.op === 'delete') {
    const g = r.gracePeriodSeconds;
    if (g === undefined) return { op: 'delete' };
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0)
      throw new Error('gracePeriodSeconds must be an integer >= 0');
    return { op: 'delete', gracePeriodSeconds: g };
  }
  throw new Error('op must be "get" or "delete"');
}

/** Whether a live process listens on `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? resolve(false) : reject(e),
    );
  });
}

/**
 * Sends one request to the run process supervising `pod`. `absent`: no run process answers (no socket,
 * or a stale one); `gone`: it closed the connection without answering (it died meanwhile).
 */
export async function requestControl(opts: {
  runDir: string;
  pod: string;
  request: ControlRequest;
  timeoutMs: number;
}): Promise<ControlReply | 'absent' | 'gone'> {
  const path = socketPath(opts.runDir, opts.pod);
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    let connected = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(
        new CliError(
          `the run process of pod "${opts.pod}" did not answer within ${Math.round(opts.timeoutMs / 1000)} s (${path})`,
          ExitCode.failed,
        ),
      );
    }, opts.timeoutMs);
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      fn();
    };
    s.setEncoding('utf8');
    s.once('connect', () => {
      connected = true;
      s.write(`${JSON.stringify(opts.request)}\n`);
    });
    s.on('data', (chunk: string) => {
      buf += chunk;
    });
    s.once('close', () => {
      if (!connected) return; // the error handler settles
      const line = buf.split('\n')[0] ?? '';
      if (line === '') return settle(() => resolve('gone'));
      try {
        const reply = JSON.parse(line) as ControlReply;
        settle(() => resolve(reply));
      } catch (e) {
        settle(() => reject(new Error(`unreadable reply from ${path}: ${line.slice(0, 200)}`, { cause: e })));
      }
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (!connected && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) return settle(() => resolve('absent'));
      if (connected && e.code === 'ECONNRESET') return; // 'close' follows and decides
      settle(() => reject(e));
    });
  });
}
