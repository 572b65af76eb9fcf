import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { Labels, LOG_SHIPPER, PlatformSidecar, silentLog, type Log } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import { APP_LOG_MAX_LINE_BYTES, type AppLogLine, type Stores } from '@sidecar/store';
import { LogBatch } from '../../log-batch.js';
import { Periodic } from '../../periodic.js';

/** A line longer than this is cut (an app writing without newlines must not grow the worker's memory). */
/** Lines are cut here (a little under the store's per-line cap, so the cut mark fits). */
export const MAX_LINE_BYTES = APP_LOG_MAX_LINE_BYTES - 8;

/**
 * Splits a stream into lines of at most MAX_LINE_BYTES: a longer line is cut there, marked with
 * `…`, and its rest skipped up to the next newline.
 */
export function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let skipping = false;
    stream.setEncoding?.('utf8');
    stream.on('data', (chunk: string | Buffer) => {
      let text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      while (text.length > 0) {
        const nl = text.indexOf('\n');
        const part = nl < 0 ? text : text.slice(0, nl);
        text = nl < 0 ? '' : text.slice(nl + 1);
        if (!skipping) buf += part;
        if (!skipping && buf.length > MAX_LINE_BYTES) {
          onLine(`${buf.slice(0, MAX_LINE_BYTES)}…`);
          buf = '';
          skipping = true;
        }
        if (nl >= 0) {
          if (!skipping) onLine(buf.replace(/\r$/, ''));
          buf = '';
          skipping = false;
        }
      }
    });
    stream.on('end', () => {
      if (buf && !skipping) onLine(buf);
      resolve();
    });
    stream.on('error', reject);
  });
}

/** Docker's RFC 3339 times drop trailing zeros of the fraction; fixed nine digits make them compare as strings. */
export function normalizeTime(t: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(t);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : t;
}

type Entry = Omit<AppLogLine, 'id'>;
type EntryMeta = Pick<Entry, 'pod' | 'container' | 'release'>;

/**
 * A line on the `logs` sidecar's stdout is a line the app wrote to a file under
 * /var/log/app, as `{"file","line","ts"}`: stored as the writer's (`runtime`) with
 * stream `file`, the file's name, and the time the shipper read it. Anything else
 * (it never prints other lines on stdout) is kept as the shipper's own output.
 */
export function shippedEntry(meta: EntryMeta, time: string, text: string): Entry {
  try {
    const v = JSON.parse(text) as { file?: unknown; line?: unknown; ts?: unknown };
    if (typeof v.file === 'string' && typeof v.line === 'string') {
      const ts = typeof v.ts === 'string' && !Number.isNaN(Date.parse(v.ts)) ? normalizeTime(v.ts) : time;
      return { ...meta, container: LOG_SHIPPER.writer, time: ts, stream: 'file', file: v.file, line: v.line };
    }
  } catch {
    // not JSON: fall through
  }
  return { ...meta, time, stream: 'stdout', line: text };
}

/**
 * Follows the output of every running container of this platform's app pods
 * and appends it to the app's log stream in Redis, where `GET /apps/:app/logs`
 * reads it; so logs outlive pods, redeploys and rollbacks. A cursor per
 * container (the last timestamp stored) means a restarted container or worker
 * continues where it left off, without repeating lines. The `logs` sidecar's
 * stdout carries the lines of the app's files (see shippedEntry).
 */
export class LogCollector {
  private readonly followed = new Map<string, AbortController>();
  private readonly ticks: Periodic;

  private readonly log: Log;

  constructor(
    private readonly opts: { docker: Docker; stores: Stores; platformId: string; intervalMs?: number; log?: Log },
  ) {
    this.log = opts.log ?? silentLog;
    this.ticks = new Periodic('log collector', () => this.scan(), opts.intervalMs ?? 500, this.log);
  }

  start(): void {
    this.ticks.start();
  }

  private async scan(): Promise<void> {
    const running = await this.opts.docker.listContainers({
      filters: {
        label: [`${Labels.managed}=true`, `${PLATFORM_LABEL}=${this.opts.platformId}`, Labels.app, Labels.container],
        status: ['running'],
      },
    });
    for (const c of running) {
      if (this.followed.has(c.Id)) continue;
      const control = new AbortController();
      this.followed.set(c.Id, control);
      void this.follow(c, control.signal)
        .catch((e: unknown) => {
          if (!control.signal.aborted)
            this.log.error({ container: c.Names[0], err: e }, 'log collector: following a container failed');
        })
        .finally(() => this.followed.delete(c.Id));
    }
  }

  private async follow(c: Docker.ContainerInfo, signal: AbortSignal): Promise<void> {
    const { stores } = this.opts;
    const app = c.Labels[Labels.app]!;
    const meta = {
      pod: c.Labels[Labels.pod] ?? '',
      container: c.Labels[Labels.container] ?? '',
      release: c.Labels[Labels.release] ?? '',
    };
    // One cursor per output stream: stdout and stderr are read concurrently and interleave arbitrarily.
    const fields = { stdout: `${c.Id}:stdout`, stderr: `${c.Id}:stderr` } as const;
    const [lastOut, lastErr] = await stores.appLogs.cursor(app, [fields.stdout, fields.stderr]);
    const resumeFrom: Record<'stdout' | 'stderr', string> = { stdout: lastOut ?? '', stderr: lastErr ?? '' };
    const caughtUp = { stdout: !resumeFrom.stdout, stderr: !resumeFrom.stderr };
    const earliest = [resumeFrom.stdout, resumeFrom.stderr].sort()[0] ?? '';
    const since = resumeFrom.stdout && resumeFrom.stderr ? Math.floor(Date.parse(earliest) / 1000) : 0;
    const raw = (await this.opts.docker.getContainer(c.Id).logs({
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      since,
      abortSignal: signal,
    })) as NodeJS.ReadableStream;
    const out = new PassThrough();
    const err = new PassThrough();
    this.opts.docker.modem.demuxStream(raw, out, err);
    raw.on('end', () => {
      out.end();
      err.end();
    });
    const shipper = meta.container === PlatformSidecar.logs;
    const batch = new LogBatch({
      stores,
      app,
      onError: (e) => this.log.error({ app, err: e }, 'log collector: storing lines failed'),
    });
    batch.start();
    const onLine = (name: 'stdout' | 'stderr', text: string) => {
      const sp = text.indexOf(' ');
      const time = sp > 0 ? normalizeTime(text.slice(0, sp)) : '';
      if (!time) return;
      // Docker's `since` has whole seconds: on resuming, skip what the cursor already covers (only then:
      // live lines may share a timestamp).
      if (!caughtUp[name]) {
        if (time <= resumeFrom[name]) return;
        caughtUp[name] = true;
      }
      const line = text.slice(sp + 1);
      batch.add(shipper && name === 'stdout' ? shippedEntry(meta, time, line) : { ...meta, time, stream: name, line }, {
        [fields[name]]: time,
      });
    };
    try {
      await Promise.all([readLines(out, (t) => onLine('stdout', t)), readLines(err, (t) => onLine('stderr', t))]);
    } finally {
      await batch.close();
    }
  }

  async close(): Promise<void> {
    await this.ticks.close();
    for (const c of this.followed.values()) c.abort();
  }
}
