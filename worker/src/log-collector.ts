import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import type Docker from 'dockerode';
import { Labels } from '@sidecar/core';
import { PLATFORM_LABEL } from './targets/docker/index.js';
import type { AppLogLine, Stores } from '@sidecar/store';


/** Docker's RFC 3339 times drop trailing zeros of the fraction; fixed nine digits make them compare as strings. */
export function normalizeTime(t: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(t);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : t;
}

/**
 * Follows the output of every running container of this platform's app pods
 * and appends it to the app's log stream in Redis, where `GET /apps/:app/logs`
 * reads it; so logs outlive pods, redeploys and rollbacks. A cursor per
 * container (the last timestamp stored) means a restarted container or worker
 * continues where it left off, without repeating lines.
 */
export class LogCollector {
  private readonly followed = new Map<string, AbortController>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  constructor(private readonly opts: { docker: Docker; stores: Stores; platformId: string; intervalMs?: number }) {}

  start(): void {
    const tick = () => {
      this.scanning ??= this.scan()
        .catch((e: unknown) => console.error(`worker: log collector: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => (this.scanning = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 500);
  }

  private async scan(): Promise<void> {
    const running = await this.opts.docker.listContainers({
      filters: { label: [`${Labels.managed}=true`, `${PLATFORM_LABEL}=${this.opts.platformId}`, Labels.app, Labels.container], status: ['running'] },
    });
    for (const c of running) {
      if (this.followed.has(c.Id)) continue;
      const control = new AbortController();
      this.followed.set(c.Id, control);
      void this.follow(c, control.signal)
        .catch((e: unknown) => {
          if (!control.signal.aborted) console.error(`worker: log collector: ${c.Names[0]}: ${e instanceof Error ? e.message : String(e)}`);
        })
        .finally(() => this.followed.delete(c.Id));
    }
  }

  private async follow(c: Docker.ContainerInfo, signal: AbortSignal): Promise<void> {
    const { stores } = this.opts;
    const app = c.Labels[Labels.app]!;
    const meta = { pod: c.Labels[Labels.pod] ?? '', container: c.Labels[Labels.container] ?? '', release: c.Labels[Labels.release] ?? '' };
    const cursorKey = `${stores.keys.appLogs(app)}:cursor`;
    // One cursor per output stream: stdout and stderr are read concurrently and interleave arbitrarily.
    const [lastOut, lastErr] = await stores.redis.hmget(cursorKey, `${c.Id}:stdout`, `${c.Id}:stderr`);
    const cursors: Record<'stdout' | 'stderr', string> = { stdout: lastOut ?? '', stderr: lastErr ?? '' };
    const earliest = [cursors.stdout, cursors.stderr].sort()[0] ?? '';
    const since = cursors.stdout && cursors.stderr ? Math.floor(Date.parse(earliest) / 1000) : 0;
    const raw = (await this.opts.docker.getContainer(c.Id).logs({ follow: true, stdout: true, stderr: true, timestamps: true, since, abortSignal: signal })) as NodeJS.ReadableStream;
    const out = new PassThrough();
    const err = new PassThrough();
    this.opts.docker.modem.demuxStream(raw, out, err);
    raw.on('end', () => {
      out.end();
      err.end();
    });
    let batch: Array<Omit<AppLogLine, 'id'>> = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const lines = batch;
      batch = [];
      await stores.appLogs.append(app, lines);
      await stores.redis.hset(cursorKey, `${c.Id}:stdout`, cursors.stdout, `${c.Id}:stderr`, cursors.stderr);
    };
    const flusher = setInterval(() => void flush().catch(() => undefined), 100);
    const read = (stream: PassThrough, name: 'stdout' | 'stderr') =>
      new Promise<void>((resolve) => {
        createInterface({ input: stream })
          .on('line', (text) => {
            const sp = text.indexOf(' ');
            const time = sp > 0 ? normalizeTime(text.slice(0, sp)) : '';
            // Docker's `since` has whole seconds: skip what the cursor already covers.
            if (!time || (cursors[name] && time <= cursors[name])) return;
            cursors[name] = time;
            batch.push({ ...meta, time, stream: name, line: text.slice(sp + 1) });
          })
          .on('close', resolve);
      });
    try {
      await Promise.all([read(out, 'stdout'), read(err, 'stderr')]);
    } finally {
      clearInterval(flusher);
      await flush();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.scanning;
    for (const c of this.followed.values()) c.abort();
  }
}
