import { constants, createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, rename, rmdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError, ErrorCode, type BundleLimits } from '@sidecar/core';
import { isJunk, parseEntryPath, resolveLink } from './archive-paths.js';

/** One archive member, format-neutral. Readers hand these over one at a time. */
export interface ArchiveEntry {
  /** The name exactly as the archive spells it (used in messages). */
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'hardlink' | 'unsupported';
  /** For `unsupported`: what it is ("character device", "fifo", ...). */
  description?: string;
  executable?: boolean;
  /** Symlink target, or for a hard link the archive name of the file it repeats. */
  linkTarget?: string;
  /** Content; the writer always consumes it (writes or drains). */
  body?: Readable;
}

export interface WrittenBundle {
  files: string[];
  unpackedBytes: number;
  /** The wrapping folder that was stripped, if any. */
  strippedFolder?: string;
}

export const invalid = (message: string) => new DomainError(ErrorCode.bundleInvalid, message);
export const tooLarge = (message: string) => new DomainError(ErrorCode.bundleTooLarge, message);

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${(n / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MiB`;
}

const DIR_MODE = 0o755;
// Modes are ours, not the archive's: nothing setuid/setgid/sticky, nothing world-writable.
const fileMode = (executable: boolean | undefined) => (executable ? 0o755 : 0o644);

// Disk errors that a bundle itself provokes (a name used twice as file and
// folder, a file written over a symlink); any other disk error is ours.
const CONFLICT_CODES = new Set(['EEXIST', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

/**
 * Writes archive entries under `dest`, enforcing the bundle rules: safe
 * names, no links out, no special files, entry and byte limits counted on
 * what is actually written. Never follows a symlink while writing: no entry
 * may sit under a symlink, and files are opened with O_NOFOLLOW.
 */
export class BundleWriter {
  private entries = 0;
  private bytes = 0;
  private readonly files = new Set<string>();
  private readonly links = new Map<string, string>();
  private readonly dirs = new Set<string>();
  /** Top-level name → whether it is (so far) a folder. */
  private readonly topLevel = new Map<string, boolean>();

  constructor(private readonly opts: { dest: string; limits: BundleLimits; signal?: AbortSignal }) {}

  async add(entry: ArchiveEntry): Promise<void> {
    if (this.opts.signal?.aborted) {
      entry.body?.destroy();
      throw new DomainError(ErrorCode.cancelled, 'bundle extraction cancelled');
    }
    try {
      await this.write(entry);
    } catch (err) {
      entry.body?.destroy();
      throw this.explain(err, entry.name);
    }
  }

  private async write(entry: ArchiveEntry): Promise<void> {
    const { limits } = this.opts;
    if (++this.entries > limits.maxEntries) {
      throw tooLarge(`bundle has more than ${limits.maxEntries} entries (the limit); stopped at "${entry.name}"`);
    }
    const parsed = parseEntryPath(entry.name);
    if (!parsed.ok) throw invalid(`entry "${entry.name}" ${parsed.reason}`);
    const segments = parsed.segments;
    if (segments.length === 0 || isJunk(segments)) return this.drain(entry);

    const top = segments[0]!;
    this.topLevel.set(top, segments.length > 1 || entry.kind === 'directory');
    for (let i = 1; i < segments.length; i++) {
      const prefix = segments.slice(0, i).join('/');
      if (this.links.has(prefix)) throw invalid(`entry "${entry.name}" lies inside the symlink "${prefix}"`);
    }
    const path = segments.join('/');
    const target = join(this.opts.dest, ...segments);

    switch (entry.kind) {
      case 'directory':
        await this.ensureDir(segments);
        return this.drain(entry);
      case 'file': {
        await this.ensureDir(segments.slice(0, -1));
        const mode = fileMode(entry.executable);
        const fd = await open(
          target,
          constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
          mode,
        );
        const out = createWriteStream('', { fd });
        await pipeline(entry.body ?? Readable.from([]), this.meter(entry.name), out);
        await chmod(target, mode); // umask may have narrowed it; the rule is exact modes
        this.files.add(path);
        return;
      }
      case 'symlink': {
        const linkTarget = entry.linkTarget ?? '';
        if (linkTarget === '') throw invalid(`symlink "${entry.name}" has an empty target`);
        if (linkTarget.startsWith('/'))
          throw invalid(`symlink "${entry.name}" points to the absolute path "${linkTarget}"`);
        // Early check against what is known now; finish() re-checks with every link and the strip decision.
        if (resolveLink({ linkPath: segments, target: linkTarget, links: this.links, rootDepth: 0 }) !== 'inside') {
          throw invalid(`symlink "${entry.name}" points outside the bundle ("${linkTarget}")`);
        }
        await this.ensureDir(segments.slice(0, -1));
        await symlink(linkTarget, target);
        this.links.set(path, linkTarget);
        return this.drain(entry);
      }
      case 'hardlink': {
        const source = parseEntryPath(entry.linkTarget ?? '');
        if (!source.ok) throw invalid(`hard link "${entry.name}" points outside the bundle ("${entry.linkTarget}")`);
        if (!this.files.has(source.segments.join('/'))) {
          throw invalid(
            `hard link "${entry.name}" points to "${entry.linkTarget}", which is not a file earlier in the archive`,
          );
        }
        const sourceFile = join(this.opts.dest, ...source.segments);
        const stat = await lstat(sourceFile);
        this.count(stat.size, entry.name);
        await this.ensureDir(segments.slice(0, -1));
        // A copy, not a link: the bundle owns independent files, and the copy counts toward the size limit.
        await copyFile(sourceFile, target, constants.COPYFILE_EXCL);
        await chmod(target, fileMode((stat.mode & 0o111) !== 0));
        this.files.add(path);
        return this.drain(entry);
      }
      case 'unsupported':
        throw invalid(
          `entry "${entry.name}" is a ${entry.description ?? 'special file'}; only files, folders and links are allowed`,
        );
    }
  }

  /** Decides the wrapping folder, re-checks every symlink against the final root, and strips. */
  async finish(): Promise<WrittenBundle> {
    if (this.files.size === 0) throw invalid('empty archive: the bundle holds no files');
    const tops = [...this.topLevel];
    const strip = tops.length === 1 && tops[0]![1] && !this.links.has(tops[0]![0]) ? tops[0]![0] : undefined;
    for (const [path, target] of this.links) {
      const verdict = resolveLink({ linkPath: path.split('/'), target, links: this.links, rootDepth: strip ? 1 : 0 });
      if (verdict === 'loop') throw invalid(`symlink "${path}" is part of a symlink loop`);
      if (verdict === 'outside') throw invalid(`symlink "${path}" points outside the bundle ("${target}")`);
    }
    if (strip) await this.stripFolder(strip);
    const cut = strip ? strip.length + 1 : 0;
    return {
      files: [...this.files].map((f) => f.slice(cut)).sort(),
      unpackedBytes: this.bytes,
      ...(strip ? { strippedFolder: strip } : {}),
    };
  }

  private async stripFolder(folder: string): Promise<void> {
    const { dest } = this.opts;
    // Move aside first: a child may share the folder's own name (app/app/...).
    const aside = join(dest, `.sidecar-strip-${process.pid}-${Date.now()}`);
    await rename(join(dest, folder), aside);
    for (const child of await readdir(aside)) await rename(join(aside, child), join(dest, child));
    await rmdir(aside);
  }

  private async ensureDir(segments: readonly string[]): Promise<void> {
    for (let i = 1; i <= segments.length; i++) {
      const key = segments.slice(0, i).join('/');
      if (this.dirs.has(key)) continue;
      if (this.links.has(key)) throw invalid(`"${key}" is a symlink, not a folder`);
      const dir = join(this.opts.dest, ...segments.slice(0, i));
      try {
        await mkdir(dir, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (!(await lstat(dir)).isDirectory()) throw invalid(`"${key}" is used both as a file and as a folder`);
      }
      await chmod(dir, DIR_MODE);
      this.dirs.add(key);
    }
  }

  private count(n: number, name: string): void {
    this.bytes += n;
    const max = this.opts.limits.maxUnpackedBytes;
    if (this.bytes > max)
      throw tooLarge(`bundle unpacks to more than ${formatBytes(max)} (the limit); stopped at "${name}"`);
  }

  /** Counts bytes as they pass, so a bomb is stopped at the limit whatever its headers claim. */
  private meter(name: string): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        try {
          this.count(chunk.length, name);
          done(null, chunk);
        } catch (err) {
          done(err as Error);
        }
      },
    });
  }

  private async drain(entry: ArchiveEntry): Promise<void> {
    if (!entry.body) return;
    await pipeline(entry.body, this.meter(entry.name), new Writable({ write: (_c, _e, done) => done() }));
  }

  private explain(err: unknown, name: string): unknown {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code && CONFLICT_CODES.has(code) && (err as NodeJS.ErrnoException).syscall) {
      return invalid(`entry "${name}" clashes with another entry of the same name (${code})`);
    }
    return err;
  }
}
