/**
 * Pure rules for names inside a bundle archive: what a safe entry path is,
 * what is packaging junk, and whether a symlink stays inside the bundle.
 */

/** Why a raw entry name is refused, or its POSIX segments. `[]` is the archive root itself (`./`). */
export type EntryPath = { ok: true; segments: string[] } | { ok: false; reason: string };

export function parseEntryPath(raw: string): EntryPath {
  if (raw.includes('\0')) return { ok: false, reason: 'contains a NUL character' };
  // Windows drive letters count as absolute too: a zip made on Windows may carry them.
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) return { ok: false, reason: 'is an absolute path' };
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: 'contains a ".." segment' };
  return { ok: true, segments };
}

/** macOS archive droppings: never extracted, and ignored when deciding whether to strip a wrapping folder. */
export function isJunk(segments: readonly string[]): boolean {
  return segments[0] === '__MACOSX' || segments[segments.length - 1] === '.DS_Store';
}

export type LinkVerdict = 'inside' | 'outside' | 'loop';

const MAX_LINK_HOPS = 40; // what Linux allows before ELOOP

/**
 * Resolves a symlink the way the kernel would, but over the archive's own
 * symlinks (`links`: archive path → target) instead of the disk, so a chain
 * like `a -> b/..` with `b -> ..` is caught no matter in which order the
 * entries came. `rootDepth` is 1 when a wrapping folder will be stripped:
 * climbing to the archive root is then already outside the bundle.
 */
export function resolveLink(opts: {
  linkPath: readonly string[];
  target: string;
  links: ReadonlyMap<string, string>;
  rootDepth: number;
}): LinkVerdict {
  if (opts.target.startsWith('/')) return 'outside';
  const current = opts.linkPath.slice(0, -1);
  const pending = opts.target.split('/');
  let hops = 0;
  while (pending.length > 0) {
    const segment = pending.shift()!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (current.length <= opts.rootDepth) return 'outside';
      current.pop();
      continue;
    }
    current.push(segment);
    const next = opts.links.get(current.join('/'));
    if (next === undefined) continue;
    if (++hops > MAX_LINK_HOPS) return 'loop';
    if (next.startsWith('/')) return 'outside';
    current.pop();
    pending.unshift(...next.split('/'));
  }
  return 'inside';
}
