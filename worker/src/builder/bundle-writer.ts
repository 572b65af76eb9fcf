import { constants, createWriteStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, rename, rmdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { DomainError, ErrorCode, type BundleLimits } from '@sidecar/core';
import { isJunk, linkTargetProblem, parseEntryPath } from './archive-paths.js';
import { formatBytes, invalid, shownName, tooLarge } from './messages.js';
import { PathTree, type DirNode, type PathNode } from './path-tree.js';

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
  /** Regular files, relative POSIX paths after stripping a wrapping folder, in archive order. */
  files: string[];
  unpackedBytes: number;
  /** The wrapping folder that was stripped, if any. */
  strippedFolder?: string;
}

const DIR_MODE = 0o755;
// Modes are ours, not the archive's: nothing setuid/setgid/sticky, nothing world-writable.
const fileMode = (executable: boolean | undefined) => (executable ? 0o755 : 0o644);

// Disk errors that a bundle itself provokes (a name used twice as file and
// folder, a file written over a symlink); any other disk error is ours.
const CONFLICT_CODES = new Set(['EEXIST', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

/** Links checked between two turns of the event loop when the archive is finished. */
const LINKS_PER_TURN = 16;

/**
 * Writes archive entries under `dest`, enforcing the bundle rules: safe
 * names, no links out, no special files, entry and byte limits counted on
 * what is actually written. Never follows a symlink while writing: no entry
 * may sit under a symlink, and files are opened with O_NOFOLLOW. The names
 * written are kept as a tree, so each check costs time linear in one name.
 */
export class BundleWriter {
  /** Archive entries read plus folders created only because a deeper name implied them. */
  private entries = 0;
  private bytes = 0;
  private readonly tree = new PathTree();
  private readonly files = new Set<string>();

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
    const name = shownName(entry.name);
    this.countEntry(name);
    const parsed = parseEntryPath(entry.name);
    if (!parsed.ok) throw invalid(`entry "${name}" ${parsed.reason}`);
    const segments = parsed.segments;
    if (segments.length === 0 || isJunk(segments)) return this.drain(entry);

    const parent = await this.ensureDir(segments.slice(0, -1), name);
    const last = segments[segments.length - 1]!;
    const existing = parent.children.get(last);
    const path = segments.join('/');
    const target = join(this.opts.dest, ...segments);

    switch (entry.kind) {
      case 'directory':
        if (existing?.kind === 'dir') return this.drain(entry);
        if (existing) throw clash(path, existing);
        await this.makeDir(parent, last, target);
        return this.drain(entry);
      case 'file': {
        // The same name twice is allowed in a tar (the later one wins), but only file over file.
        if (existing && existing.kind !== 'file') throw clash(path, existing);
        const mode = fileMode(entry.executable);
        const fd = await open(
          target,
          constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
          mode,
        );
        const out = createWriteStream('', { fd });
        await pipeline(entry.body ?? Readable.from([]), this.meter(name), out);
        await chmod(target, mode); // umask may have narrowed it; the rule is exact modes
        if (!existing) this.tree.add(parent, last, { kind: 'file' });
        this.files.add(path);
        return;
      }
      case 'symlink': {
        const linkTarget = entry.linkTarget ?? '';
        const problem = linkTargetProblem(linkTarget);
        if (problem) throw invalid(`symlink "${name}" ${problem}`);
        // Climbing above the root through the link's own (real) parent folders: outside whatever
        // comes later. The full check, through other links, runs once every name is known (finish).
        if (leadingClimb(linkTarget) > segments.length - 1) {
          throw invalid(`symlink "${name}" points outside the bundle ("${shownName(linkTarget)}")`);
        }
        if (existing) throw clash(path, existing);
        await symlink(linkTarget, target);
        this.tree.add(parent, last, { kind: 'link', target: linkTarget, path });
        return this.drain(entry);
      }
      case 'hardlink': {
        const sourceName = entry.linkTarget ?? '';
        const source = parseEntryPath(sourceName);
        if (!source.ok) throw invalid(`hard link "${name}" points outside the bundle ("${shownName(sourceName)}")`);
        if (this.tree.get(source.segments)?.kind !== 'file') {
          throw invalid(
            `hard link "${name}" points to "${shownName(sourceName)}", which is not a file earlier in the archive`,
          );
        }
        if (existing) throw clash(path, existing);
        const sourceFile = join(this.opts.dest, ...source.segments);
        const stat = await lstat(sourceFile);
        this.count(stat.size, name);
        // A copy, not a link: the bundle owns independent files, and the copy counts toward the size limit.
        await copyFile(sourceFile, target, constants.COPYFILE_EXCL);
        await chmod(target, fileMode((stat.mode & 0o111) !== 0));
        this.tree.add(parent, last, { kind: 'file' });
        this.files.add(path);
        return this.drain(entry);
      }
      case 'unsupported':
        throw invalid(
          `entry "${name}" is a ${entry.description ?? 'special file'}; only files, folders and links are allowed`,
        );
    }
  }

  /** Decides the wrapping folder, checks every symlink against the final root, and strips. */
  async finish(): Promise<WrittenBundle> {
    if (this.files.size === 0) throw invalid('empty archive: the bundle holds no files');
    const strip = this.tree.wrappingFolder();
    const verdictOf = this.tree.linkResolver(strip ? 1 : 0);
    for (const [i, link] of this.tree.links.entries()) {
      // Each link costs at most its own target plus the links it passes through (memoised):
      // small, but thousands of them must still leave room for the rest of the worker.
      if (i > 0 && i % LINKS_PER_TURN === 0) await yieldToLoop();
      const verdict = verdictOf(link);
      const path = shownName(link.path);
      if (verdict === 'loop') throw invalid(`symlink "${path}" is part of a symlink loop`);
      if (verdict === 'outside') {
        throw invalid(`symlink "${path}" points outside the bundle ("${shownName(link.target)}")`);
      }
    }
    if (strip) await this.stripFolder(strip);
    const cut = strip ? strip.length + 1 : 0;
    return {
      files: [...this.files].map((f) => f.slice(cut)),
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

  /** The folder at `segments`, creating what is missing; refuses a path through a file or a symlink. */
  private async ensureDir(segments: readonly string[], name: string): Promise<DirNode> {
    let node: DirNode = this.tree.root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const next: PathNode | undefined = node.children.get(segment);
      if (next?.kind === 'dir') {
        node = next;
        continue;
      }
      const prefix = segments.slice(0, i + 1).join('/');
      if (next?.kind === 'link') throw invalid(`entry "${name}" lies inside the symlink "${shownName(prefix)}"`);
      if (next?.kind === 'file') throw invalid(`"${shownName(prefix)}" is used both as a file and as a folder`);
      // A folder only implied by a deeper name is still a thing on disk: it counts as an entry.
      this.countEntry(name);
      node = await this.makeDir(node, segment, join(this.opts.dest, prefix));
    }
    return node;
  }

  private async makeDir(parent: DirNode, segment: string, path: string): Promise<DirNode> {
    await mkdir(path, { mode: DIR_MODE });
    await chmod(path, DIR_MODE);
    return this.tree.add(parent, segment, { kind: 'dir' }) as DirNode;
  }

  private countEntry(name: string): void {
    const max = this.opts.limits.maxEntries;
    if (++this.entries > max) {
      throw tooLarge(`bundle has more than ${max} entries (the limit, folders included); stopped at "${name}"`);
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
    await pipeline(entry.body, this.meter(shownName(entry.name)), new Writable({ write: (_c, _e, done) => done() }));
  }

  private explain(err: unknown, name: string): unknown {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code && CONFLICT_CODES.has(code) && (err as NodeJS.ErrnoException).syscall) {
      return invalid(`entry "${shownName(name)}" clashes with another entry of the same name (${code})`);
    }
    return err;
  }
}

function clash(path: string, existing: PathNode): DomainError {
  const was = existing.kind === 'dir' ? 'a folder' : existing.kind === 'link' ? 'a symlink' : 'a file';
  return invalid(`entry "${shownName(path)}" clashes with ${was} of the same name earlier in the archive`);
}

/** How many `..` the target starts with, ignoring `.` and empty segments; reads only that far. */
function leadingClimb(target: string): number {
  let climbs = 0;
  let start = 0;
  while (start <= target.length) {
    let end = target.indexOf('/', start);
    if (end === -1) end = target.length;
    const length = end - start;
    const isDot = length === 1 && target[start] === '.';
    const isDotDot = length === 2 && target[start] === '.' && target[start + 1] === '.';
    if (isDotDot) climbs++;
    else if (length !== 0 && !isDot) break;
    start = end + 1;
  }
  return climbs;
}
