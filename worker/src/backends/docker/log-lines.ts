import { LOG_SHIPPER } from '@sidecar/core';
import { APP_LOG_MAX_LINE_BYTES, type AppLogLine } from '@sidecar/store';

// How the log collector reads a container's output: lines, Docker's times, the log shipper's records.

/**
 * A line longer than this is cut (an app writing without newlines must not grow the worker's memory),
 * a little under the store's per-line cap, so the cut mark fits.
 */
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

/** A line as the collector stores it (the store gives it its id). */
export type Entry = Omit<AppLogLine, 'id'>;
export type EntryMeta = Pick<Entry, 'pod' | 'container' | 'release'>;

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
