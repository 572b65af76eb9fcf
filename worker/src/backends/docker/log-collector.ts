import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { Labels, PlatformSidecar, silentLog, type Log } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import type { Stores } from '@sidecar/store';
import { LogBatch } from '../../log-batch.js';
import { Periodic } from '../../periodic.js';
import { normalizeTime, readLines, shippedEntry } from './log-lines.js';

/** How long a pod's removal waits for its output to be stored (drainPod) before it goes anyway. */
export const DRAIN_TIMEOUT_MS = 20_000;

export interface LogCollectorOptions {
  docker: Docker;
  stores: Stores;
  platformId: string;
  /** How often running containers are looked for (default 500 ms). */
  intervalMs?: number;
  /** The bound of drainPod (default DRAIN_TIMEOUT_MS). */
  drainTimeoutMs?: number;
  /** The worker's operational log (default: nowhere). */
  log?: Log;
}

/** One read of a container's output: how to stop it, and its end (true: read to the end and all stored). */
interface Reader {
  control: AbortController;
  done: Promise<boolean>;
}

/**
 * Follows the output of every running container of this platform's app pods
 * and appends it to the app's log stream in Redis, where `GET /apps/:app/logs`
 * reads it; so logs outlive pods, redeploys and rollbacks. A cursor per
 * container (the last timestamp stored) means a restarted container or worker
 * continues where it left off, without repeating lines. The `logs` sidecar's
 * stdout carries the lines of the app's files (see shippedEntry).
 *
 * Nothing is lost to a removal: the Docker target calls `drainPod` after a pod's containers have
 * stopped and before it removes them, and that reads each one to its end (docs/reliability.md).
 */
export class LogCollector {
  private readonly readers = new Map<string, Reader>();
  /** Containers a drain owns: the periodic scan never starts a second reader on them. */
  private readonly draining = new Set<string>();
  private readonly ticks: Periodic;
  private closed = false;

  private readonly log: Log;

  constructor(private readonly opts: LogCollectorOptions) {
    this.log = opts.log ?? silentLog;
    this.ticks = new Periodic('log collector', () => this.scan(), opts.intervalMs ?? 500, this.log);
  }

  start(): void {
    this.ticks.start();
  }

  /**
   * Reads the output of a pod's (stopped) containers to the end and stores it: a read in progress
   * ends when the container's output does; then one more read from the stored cursor takes what no
   * read has stored (a container that ran and stopped between two scans, a read cut off, a store
   * write that failed). Bounded by `drainTimeoutMs` for the whole pod; past it, a line in the app's
   * log says which container's output may be incomplete. Never throws.
   */
  async drainPod(pod: string): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + (this.opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS);
    const containers = await this.opts.docker
      .listContainers({ all: true, filters: { label: [...this.ownLabels(), `${Labels.pod}=${pod}`] } })
      .catch((e: unknown) => {
        this.log.error({ pod, err: e }, 'log collector: listing the containers of a pod to drain failed');
        return [];
      });
    await Promise.all(containers.map((c) => this.drainContainer(c, deadline)));
  }

  private async drainContainer(c: Docker.ContainerInfo, deadline: number): Promise<void> {
    this.draining.add(c.Id);
    const left = () => Math.max(0, deadline - Date.now());
    try {
      // A reader in progress ends with the output; whatever it did not store, the catch-up read takes.
      const current = this.readers.get(c.Id);
      if (current && (await within(current.done, left())) === undefined) return await this.gaveUp(c);
      const catchUp = this.read(c, { stopBy: deadline });
      if ((await within(catchUp.done, left() + 50)) !== true) {
        catchUp.control.abort();
        return await this.gaveUp(c);
      }
    } finally {
      this.draining.delete(c.Id);
    }
  }

  /** The line that replaces what a drain could not read in time, in the app's log where it would have been. */
  private async gaveUp(c: Docker.ContainerInfo): Promise<void> {
    const waited = Math.round((this.opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS) / 100) / 10;
    const meta = entryMeta(c);
    const line = `sidecar: container ${meta.container} of pod ${meta.pod} was removed before its output was read to the end (waited ${waited} s); its last lines may be missing`;
    this.log.warn({ app: c.Labels[Labels.app], pod: meta.pod, container: meta.container }, `log collector: ${line}`);
    await this.opts.stores.appLogs
      .append(c.Labels[Labels.app]!, [
        { ...meta, time: normalizeTime(new Date().toISOString()), stream: 'stderr', line },
      ])
      .catch((e: unknown) =>
        this.log.error({ app: c.Labels[Labels.app], err: e }, 'log collector: storing the drain notice failed'),
      );
  }

  private async scan(): Promise<void> {
    const running = await this.opts.docker.listContainers({
      filters: { label: this.ownLabels(), status: ['running'] },
    });
    // No await in this loop: a drain that begins meanwhile sees every reader registered here.
    for (const c of running) {
      if (this.readers.has(c.Id) || this.draining.has(c.Id)) continue;
      this.read(c, {});
    }
  }

  /** Starts a reader of one container's output from its stored cursor; it ends with the output (or on abort). */
  private read(c: Docker.ContainerInfo, opts: { stopBy?: number }): Reader {
    const control = new AbortController();
    const done = this.follow(c, control.signal, opts.stopBy)
      .then(() => !control.signal.aborted)
      .catch((e: unknown) => {
        if (!control.signal.aborted)
          this.log.error({ container: c.Names[0], err: e }, 'log collector: following a container failed');
        return false;
      })
      .finally(() => {
        if (this.readers.get(c.Id)?.control === control) this.readers.delete(c.Id);
      });
    this.readers.set(c.Id, { control, done });
    return { control, done };
  }

  /**
   * Streams the container's output into the app's log. With `stopBy` (a drain), the lines read are
   * stored with retries until then; otherwise one last write is tried when the output ends, and lines
   * it could not store are read again from the cursor by the next reader.
   */
  private async follow(c: Docker.ContainerInfo, signal: AbortSignal, stopBy?: number): Promise<void> {
    const { stores } = this.opts;
    const app = c.Labels[Labels.app]!;
    const meta = entryMeta(c);
    // One cursor per output stream: stdout and stderr are read concurrently and interleave arbitrarily.
    const fields = { stdout: `${c.Id}:stdout`, stderr: `${c.Id}:stderr` } as const;
    const [lastOut, lastErr] = await stores.appLogs.cursor(app, [fields.stdout, fields.stderr]);
    const resumeFrom: Record<'stdout' | 'stderr', string> = { stdout: lastOut ?? '', stderr: lastErr ?? '' };
    const caughtUp = { stdout: !resumeFrom.stdout, stderr: !resumeFrom.stderr };
    const earliest = [resumeFrom.stdout, resumeFrom.stderr].sort()[0] ?? '';
    const since = resumeFrom.stdout && resumeFrom.stderr ? Math.floor(Date.parse(earliest) / 1000) : 0;
    // Following a stopped container returns its whole output and ends: the same call serves drains.
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
    // The connection ended before the output did (the engine restarted, or this read was aborted): the
    // reader ends here, and the next scan reads on from the stored cursor.
    let cut = false;
    raw.on('close', () => {
      if ((raw as Partial<IncomingMessage>).complete !== false) return;
      cut = true;
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
    let stored = true;
    try {
      await Promise.all([readLines(out, (t) => onLine('stdout', t)), readLines(err, (t) => onLine('stderr', t))]);
    } finally {
      if (stopBy === undefined || signal.aborted) await batch.close();
      else stored = await batch.drain(stopBy);
    }
    if (!stored) throw new Error(`could not store the last lines of ${c.Names[0]}`);
    if (cut && !signal.aborted) throw new Error(`the Docker engine ended the output of ${c.Names[0]} early`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ticks.close();
    for (const r of this.readers.values()) r.control.abort();
  }

  /** The containers this collector reads: app containers of this platform's pods. */
  private ownLabels(): string[] {
    return [`${Labels.managed}=true`, `${PLATFORM_LABEL}=${this.opts.platformId}`, Labels.app, Labels.container];
  }
}

function entryMeta(c: Docker.ContainerInfo) {
  return {
    pod: c.Labels[Labels.pod] ?? '',
    container: c.Labels[Labels.container] ?? '',
    release: c.Labels[Labels.release] ?? '',
  };
}

/** What `work` resolved to, or undefined when it did not within `ms`. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
