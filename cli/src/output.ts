import type { PodEvent, PodView } from '@sidecar/core';
import type { JobStatus } from './job.js';

/**
 * stdout of `sidecar pod run`: JSON lines only, so that scripts can parse every line.
 * Human-oriented notes go to stderr (`note`).
 */
export interface RunOutput {
  event(e: PodEvent): void;
  /** The last line, `{"status": ...}` (and `"job"` for a Job); resolves once written. */
  final(status: PodView, job?: JobStatus): Promise<void>;
  note(line: string): void;
}

export function jsonLinesOutput(out: NodeJS.WritableStream, err: NodeJS.WritableStream): RunOutput {
  return {
    event: (e) => {
      // Fixed key order, whatever the event object's.
      out.write(`${JSON.stringify({ time: e.time, container: e.container, reason: e.reason, message: e.message })}\n`);
    },
    final: (status, job) =>
      new Promise<void>((resolve, reject) => {
        out.write(`${JSON.stringify(job ? { status, job } : { status })}\n`, (e) => (e ? reject(e) : resolve()));
      }),
    note: (line) => {
      err.write(`sidecar: ${line}\n`);
    },
  };
}

/** An event of the CLI itself (pod- or Job-level, as the Kubernetes controllers emit): container "". */
export function cliEvent(reason: string, message: string): PodEvent {
  return { time: new Date().toISOString(), container: '', reason, message };
}
