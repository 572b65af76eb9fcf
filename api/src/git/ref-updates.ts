/** One line of what git hands a pre-receive hook: `<old-sha> <new-sha> <ref>`. */
export interface RefUpdate {
  oldSha: string;
  newSha: string;
  ref: string;
}

const ZERO = /^0+$/;
export const isZero = (sha: string) => ZERO.test(sha);

export function parseRefUpdates(text: string): RefUpdate[] {
  const out: RefUpdate[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{40,64}) ([0-9a-f]{40,64}) (refs\/\S+)$/.exec(line.trim());
    if (m) out.push({ oldSha: m[1]!, newSha: m[2]!, ref: m[3]! });
  }
  return out;
}

/** `main` for refs/heads/main; null for tags and other refs. */
export function branchOf(ref: string): string | null {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;
}

export const short = (sha: string) => sha.slice(0, 7);
