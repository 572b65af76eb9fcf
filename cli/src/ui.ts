import { SingleBar } from 'cli-progress';
import ora from 'ora';
import { createColors } from 'picocolors';

export type Colors = ReturnType<typeof createColors>;

/** A long wait shown on a terminal; on anything else, one line when it ends. */
export interface Spinner {
  /** Ends the wait with a line for what it came to. */
  done(line: string): void;
  stop(): void;
}

/** Bytes sent of a known total; nothing at all off a terminal. */
export interface Progress {
  update(sent: number): void;
  stop(): void;
}

/**
 * What commands print. stdout carries results (with `--json`, one JSON document and nothing else);
 * stderr carries progress and notes. Colour and animation only on a terminal without NO_COLOR.
 */
export interface Ui {
  readonly c: Colors;
  /** A result line on stdout. */
  out(line: string): void;
  /** A progress or note line on stderr. */
  note(line: string): void;
  /** The one JSON document of `--json`. */
  json(doc: unknown): void;
  /** Raw text on stdout (log lines as they come). */
  write(text: string): void;
  spinner(text: string): Spinner;
  progress(total: number, label: string): Progress;
}

export function createUi(opts: {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** NO_COLOR or TERM=dumb. */
  plain: boolean;
}): Ui {
  const { stdout, stderr } = opts;
  const colour = !opts.plain && stdout.isTTY === true;
  const animate = !opts.plain && stderr.isTTY === true;
  return {
    c: createColors(colour),
    out: (line) => stdout.write(`${line}\n`),
    note: (line) => stderr.write(`${line}\n`),
    json: (doc) => stdout.write(`${JSON.stringify(doc, null, 2)}\n`),
    write: (text) => stdout.write(text),
    spinner(text) {
      if (!animate) return { done: (line) => stderr.write(`${line}\n`), stop: () => undefined };
      const s = ora({ text, stream: stderr, discardStdin: false }).start();
      return { done: (line) => s.stopAndPersist({ symbol: '', text: line }), stop: () => s.stop() };
    },
    progress(total, label) {
      if (!animate) return { update: () => undefined, stop: () => undefined };
      const bar = new SingleBar({
        stream: stderr,
        format: `${label} [{bar}] {percentage}% | {value_h}/{total_h}`,
        formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? humanBytes(v) : String(v)),
        hideCursor: true,
        clearOnComplete: true,
      });
      bar.start(total, 0, { value_h: humanBytes(0), total_h: humanBytes(total) });
      return {
        update: (sent) => bar.update(sent, { value_h: humanBytes(sent), total_h: humanBytes(total) }),
        stop: () => bar.stop(),
      };
    },
  };
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** `12s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => visibleLength(r[i] ?? '')))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell))))
      .join('  ')
      .trimEnd(),
  );
}

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;

/** A table with a bold header row, on stdout. */
export function printTable(ui: Ui, header: readonly string[], rows: readonly (readonly string[])[]): void {
  const [head, ...body] = table([header, ...rows]);
  ui.out(ui.c.bold(head!));
  for (const line of body) ui.out(line);
}
