/**
 * Pure rules for names inside a bundle archive: what a safe entry path is and
 * what is packaging junk. Every check is linear in the name, and names are
 * bounded (BundleNameRules) before anything else looks at them.
 */
import { BundleNameRules } from '@sidecar/core';

/** Why a raw entry name is refused, or its POSIX segments. `[]` is the archive root itself (`./`). */
export type EntryPath = { ok: true; segments: string[] } | { ok: false; reason: string };

export function parseEntryPath(raw: string): EntryPath {
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (bytes > BundleNameRules.maxNameBytes) {
    return { ok: false, reason: `is ${bytes} bytes long, more than the ${BundleNameRules.maxNameBytes}-byte limit` };
  }
  if (raw.includes('\0')) return { ok: false, reason: 'contains a NUL character' };
  // Windows drive letters count as absolute too: a zip made on Windows may carry them.
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) return { ok: false, reason: 'is an absolute path' };
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length > BundleNameRules.maxDepth) {
    return {
      ok: false,
      reason: `is ${segments.length} folders deep, more than the limit of ${BundleNameRules.maxDepth}`,
    };
  }
  if (segments.includes('..')) return { ok: false, reason: 'contains a ".." segment' };
  return { ok: true, segments };
}

/** Why a symlink target is refused outright, before any resolution; undefined if it may be resolved. */
export function linkTargetProblem(target: string): string | undefined {
  const bytes = Buffer.byteLength(target, 'utf8');
  if (bytes > BundleNameRules.maxLinkTargetBytes) {
    return `has a target of ${bytes} bytes, more than the ${BundleNameRules.maxLinkTargetBytes}-byte limit`;
  }
  if (target === '') return 'has an empty target';
  if (target.includes('\0')) return 'has a target containing a NUL character';
  if (target.startsWith('/')) return `points to the absolute path "${target}"`;
  return undefined;
}

/** macOS archive droppings: never extracted, and ignored when deciding whether to strip a wrapping folder. */
export function isJunk(segments: readonly string[]): boolean {
  return segments[0] === '__MACOSX' || segments[segments.length - 1] === '.DS_Store';
}
