import { describe, expect, it } from 'vitest';
import { tokenFromHeader } from './git-access.js';
import type { GitSettings } from './git-settings.js';
import { PushedObjects } from './pushed-commit.js';
import { branchOf, isZero, parseRefUpdates } from './ref-updates.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const settings: GitSettings = {
  root: '/data/git',
  httpBackend: 'x',
  lockWaitMs: 0,
  pushTimeoutMs: 1,
  maxPushBytes: 1,
  repoQuotaBytes: 1,
  nodePath: 'node',
};

describe('the token of a git request', () => {
  it('is the Basic password whatever the user name, or a Bearer token', () => {
    expect(tokenFromHeader(`Basic ${b64('x:sct_abc')}`)).toBe('sct_abc');
    expect(tokenFromHeader(`basic ${b64('anyone:pa:ss')}`)).toBe('pa:ss');
    expect(tokenFromHeader('Bearer sct_abc')).toBe('sct_abc');
  });
  it('is missing without a password', () => {
    expect(tokenFromHeader(undefined)).toBeNull();
    expect(tokenFromHeader(`Basic ${b64('user-only')}`)).toBeNull();
    expect(tokenFromHeader(`Basic ${b64('user:')}`)).toBeNull();
    expect(tokenFromHeader('Digest x')).toBeNull();
  });
});

describe('what pre-receive reads', () => {
  const a = 'a'.repeat(40);
  const z = '0'.repeat(40);
  it('parses ref update lines and skips anything else', () => {
    expect(parseRefUpdates(`${z} ${a} refs/heads/main\n${a} ${z} refs/tags/v1\ngarbage\n`)).toEqual([
      { oldSha: z, newSha: a, ref: 'refs/heads/main' },
      { oldSha: a, newSha: z, ref: 'refs/tags/v1' },
    ]);
    expect(isZero(z)).toBe(true);
    expect(branchOf('refs/heads/feature/x')).toBe('feature/x');
    expect(branchOf('refs/tags/v1')).toBeNull();
  });
  it('accepts only git quarantine directories of the repository itself', () => {
    const repo = '/data/git/hello.git';
    expect(() => new PushedObjects(settings, repo, `${repo}/./objects/tmp_objdir-incoming-Ab12`)).not.toThrow();
    expect(() => new PushedObjects(settings, repo, null)).not.toThrow();
    for (const bad of [
      '/tmp/evil',
      `${repo}/objects`,
      `${repo}/objects/tmp_objdir-incoming-x/../../../other.git/objects/tmp_objdir-incoming-y`,
      '/data/git/other.git/objects/tmp_objdir-incoming-x',
    ]) {
      expect(() => new PushedObjects(settings, repo, bad), bad).toThrow(/quarantine/);
    }
  });
});
