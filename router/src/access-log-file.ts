import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { errorText } from '@sidecar/core';

/** At most one warning this often while writes keep failing (a full disk must not flood the router's log). */
const WARN_EVERY_MS = 60_000;

export interface AccessLogFileOptions {
  /** The file; its previous part is `<path>.1` (one rotation kept, as logrotate's `rotate 1`). */
  path: string;
  /** Past this many bytes the file is renamed to `<path>.1` (replacing the older one) and a new one begun. */
  maxBytes: number;
  /** Told when a write fails (throttled) and when writing works again. */
  warn: (message: string) => void;
}

/**
 * The router's access log as a file, as nginx keeps one: the bytes of HAProxy's lines appended as they come,
 * one write per batch (the access-log listener hands over each read's complete lines).
 *
 * Why not stdout by default: there the lines cross a pipe to the launcher, a second process that reads and
 * writes them again, and Node writes to a pipe synchronously on Linux: a slow reader (a terminal that scrolls)
 * would hold up the router's event loop, its control loop with it. Measured by CPU time per request
 * (docs/benchmarks.md, 12 B answers at 32 connections): the router, its HAProxy and the process reading the
 * output 55.0 µs, the router writing the file 49.9 µs. Writes are synchronous appends to the page cache
 * (tens of microseconds per batch of lines), so lines keep their order and nothing waits in the heap. A
 * failing write (a full disk) loses that batch's lines for this file only — the apps' logs and the metrics
 * still get them — and the router goes on serving.
 */
export class AccessLogFile {
  private fd: number | undefined;
  private size = 0;
  private lost = 0;
  private lastWarnMs = -Infinity;

  constructor(private readonly opts: AccessLogFileOptions) {}

  write(bytes: Uint8Array): void {
    try {
      if (this.fd === undefined) this.open();
      if (this.size + bytes.length > this.opts.maxBytes && this.size > 0) this.rotate();
      let done = 0;
      while (done < bytes.length) done += writeSync(this.fd!, bytes, done);
      this.size += bytes.length;
      if (this.lost > 0) {
        this.opts.warn(`access log ${this.opts.path}: writing again (${this.lost} lines of it were lost)`);
        this.lost = 0;
      }
    } catch (e) {
      // The file is opened afresh at the next batch: a disk with room again, or a log directory put back.
      this.closeQuietly();
      this.lost += countLines(bytes);
      const now = Date.now();
      if (now - this.lastWarnMs >= WARN_EVERY_MS) {
        this.lastWarnMs = now;
        this.opts.warn(`access log ${this.opts.path}: cannot write (${errorText(e)}); lines are lost`);
      }
    }
  }

  close(): void {
    this.closeQuietly();
  }

  private open(): void {
    this.fd = openSync(this.opts.path, 'a', 0o600);
    // Appends go to the end whatever was there (a router restarted): rotation counts from there.
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.closeQuietly();
    renameSync(this.opts.path, `${this.opts.path}.1`);
    this.open();
  }

  private closeQuietly(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already unusable: nothing more to release.
    }
    this.fd = undefined;
  }
}

function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) if (b === 0x0a) n++;
  return n;
}
