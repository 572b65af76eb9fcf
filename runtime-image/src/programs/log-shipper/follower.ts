/**
 * The file-following core of the log shipper: which bytes of which file under
 * the log directory are new since the last scan, split into lines. Offsets are
 * kept per file (with its inode) so that a restarted shipper resumes where it
 * stopped, a rotated file (renamed) keeps its offset under its new name, and a
 * truncated file is read again from its start.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** One line as the shipper prints it: the file (relative to the log directory), the text, when it was read. */
export interface ShippedLine {
  file: string;
  line: string;
  ts: string;
}

/** Per file (relative path): its inode and the byte offset up to which its lines were shipped. */
export type Offsets = Record<string, { ino: number; offset: number }>;

export interface FollowerLimits {
  /** A longer line is shipped in pieces of this many bytes (no byte is dropped). */
  maxLineBytes: number;
  /** Read at most this much per scan (all files together), so a burst cannot fill memory. */
  maxReadBytes: number;
  /** Follow at most this many files (the first by name), at most `maxDepth` directories deep. */
  maxFiles: number;
  maxDepth: number;
}

export const DEFAULT_LIMITS: FollowerLimits = {
  maxLineBytes: 8 * 1024,
  maxReadBytes: 1024 * 1024,
  maxFiles: 256,
  maxDepth: 4,
};

const NEWLINE = 0x0a;
/** Under the node agent's line limit (16 KiB), so a line's JSON always arrives whole. */
export const MAX_JSON_CHARS = 15 * 1024;

/** One JSON object per line; escapes (control characters) can make it longer than the line, so cut to fit. */
export function encode(l: ShippedLine): string {
  let json = JSON.stringify(l);
  let line = l.line;
  while (json.length > MAX_JSON_CHARS && line.length > 0) {
    line = line.slice(0, Math.floor(line.length * 0.9));
    json = JSON.stringify({ ...l, line: `${line}…` });
  }
  return `${json}\n`;
}

export interface ScanResult {
  lines: ShippedLine[];
  /** The read budget ran out before every file was read to its end: scan again without waiting. */
  more: boolean;
}

export class LogFollower {
  private state: Offsets;
  private readonly limits: FollowerLimits;
  private readonly warned = new Set<string>();
  /** The file after the one on which the last scan ran out of budget: the next scan starts there, so no file starves behind a busy one. */
  private resumeAt: string | undefined;

  constructor(
    private readonly o: {
      dir: string;
      offsets?: Offsets;
      limits?: Partial<FollowerLimits>;
      now?: () => Date;
      warn?: (msg: string) => void;
    },
  ) {
    this.state = { ...o.offsets };
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
  }

  /** The offsets of every followed file, to save after the lines of a scan were written out. */
  offsets(): Offsets {
    return structuredClone(this.state);
  }

  /**
   * The complete lines appended since the last scan. With `final` (the shipper is
   * stopping and the writers have exited) a last line without a newline is shipped too.
   */
  async scan(opts: { final?: boolean } = {}): Promise<ScanResult> {
    const listed = await this.list();
    const first = this.resumeAt === undefined ? -1 : listed.findIndex((f) => f >= this.resumeAt!);
    const files = first > 0 ? [...listed.slice(first), ...listed.slice(0, first)] : listed;
    this.resumeAt = undefined;
    const next: Offsets = {};
    const lines: ShippedLine[] = [];
    let budget = this.limits.maxReadBytes;
    let exhausted = false;
    for (const [i, file] of files.entries()) {
      let info;
      try {
        info = await stat(join(this.o.dir, file));
      } catch {
        continue; // removed since it was listed
      }
      const offset = this.startOffset(file, info.ino, info.size);
      const read = await this.readFrom({ file, from: offset, size: info.size, budget, final: opts.final ?? false });
      next[file] = { ino: info.ino, offset: read.offset };
      lines.push(...read.lines);
      budget -= read.bytes;
      if (budget <= 0 && read.offset < info.size && !exhausted) {
        exhausted = true;
        this.resumeAt = files[i + 1] ?? files[0];
      }
    }
    // Files that are gone (deleted, or renamed to a name we follow again under `next`) drop out.
    this.state = next;
    return { lines, more: exhausted };
  }

  /** Where to resume: the saved offset of this inode (under this name, or an old name after a rename), else 0. */
  private startOffset(file: string, ino: number, size: number): number {
    const saved =
      this.state[file]?.ino === ino ? this.state[file] : Object.values(this.state).find((s) => s.ino === ino);
    if (!saved) return 0;
    // Shorter than what we shipped: truncated (copytruncate rotation, `> file`); read it again from the start.
    return size < saved.offset ? 0 : saved.offset;
  }

  private async readFrom(o: {
    file: string;
    from: number;
    size: number;
    budget: number;
    final: boolean;
  }): Promise<{ lines: ShippedLine[]; offset: number; bytes: number }> {
    const { file, from } = o;
    const length = Math.min(o.size - from, Math.max(0, o.budget));
    if (length <= 0) return { lines: [], offset: from, bytes: 0 };
    const buf = Buffer.alloc(length);
    let got = 0;
    try {
      const fh = await open(join(this.o.dir, file), 'r');
      try {
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, from + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
      } finally {
        await fh.close();
      }
    } catch (e) {
      this.warnOnce(file, `cannot read ${file}: ${(e as Error).message}`);
      return { lines: [], offset: from, bytes: 0 };
    }
    const ts = (this.o.now?.() ?? new Date()).toISOString();
    const { lines, consumed } = splitLines(
      buf.subarray(0, got),
      this.limits.maxLineBytes,
      o.final && from + got >= o.size,
    );
    return { lines: lines.map((line) => ({ file, line, ts })), offset: from + consumed, bytes: got };
  }

  private async list(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string, depth: number): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.o.dir, rel), { withFileTypes: true });
      } catch (e) {
        // A missing directory is an app that has written nothing yet.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          this.warnOnce(rel, `cannot list ${rel || '.'}: ${(e as Error).message}`);
        return;
      }
      for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const path = rel ? `${rel}/${e.name}` : e.name;
        // Symlinks are not followed: they could point anywhere, or loop.
        if (e.isFile()) out.push(path);
        else if (e.isDirectory() && depth < this.limits.maxDepth) await walk(path, depth + 1);
      }
    };
    await walk('', 1);
    if (out.length > this.limits.maxFiles)
      this.warnOnce(
        '*',
        `more than ${this.limits.maxFiles} files; following the first ${this.limits.maxFiles} by name`,
      );
    return out.slice(0, this.limits.maxFiles);
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.o.warn?.(msg);
  }
}

/**
 * Complete lines of `buf` (without `\n` or a trailing `\r`) and how many bytes they
 * used. A line longer than maxBytes is cut into pieces at UTF-8 character boundaries;
 * a last line without newline is left for later unless `flush` is set.
 */
export function splitLines(buf: Buffer, maxBytes: number, flush: boolean): { lines: string[]; consumed: number } {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(NEWLINE, start);
    const end = nl < 0 ? buf.length : nl;
    if (end - start > maxBytes) {
      let cut = start + maxBytes;
      // Back off to the first byte of a character (continuation bytes are 10xxxxxx).
      while (cut > start && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
      if (cut === start) cut = start + maxBytes; // not UTF-8 at all: cut anywhere
      lines.push(buf.toString('utf8', start, cut));
      start = cut;
      continue;
    }
    if (nl < 0) {
      if (flush && start < buf.length) {
        lines.push(text(buf, start, buf.length));
        start = buf.length;
      }
      return { lines, consumed: start };
    }
    lines.push(text(buf, start, nl));
    start = nl + 1;
  }
}

function text(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, end > start && buf[end - 1] === 0x0d ? end - 1 : end);
}
