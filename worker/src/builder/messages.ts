import { DomainError, ErrorCode } from '@sidecar/core';

// The two errors a bundle itself causes, and how sizes and names appear in their messages.
export const invalid = (message: string) => new DomainError(ErrorCode.bundleInvalid, message);
export const tooLarge = (message: string) => new DomainError(ErrorCode.bundleTooLarge, message);

export { formatBytes } from '@sidecar/core';

const SHOWN_NAME_CHARS = 120;

/** A name as messages show it: whole when short, else its start and end, so a 4 KiB name cannot flood a deploy log. */
export function shownName(name: string): string {
  if (name.length <= SHOWN_NAME_CHARS) return name;
  const half = SHOWN_NAME_CHARS / 2;
  return `${name.slice(0, half)}…(${name.length - SHOWN_NAME_CHARS} more characters)…${name.slice(-half)}`;
}
