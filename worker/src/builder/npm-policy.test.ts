import { describe, expect, it } from 'vitest';
import { DomainError } from '@sidecar/core';
import { isGitSpec, refuseGitDependencies } from './npm-policy.js';

describe('isGitSpec: what npm would clone', () => {
  it.each([
    'git+https://github.com/vercel/ms.git',
    'git+ssh://git@github.com/vercel/ms.git#v2',
    'git://example.com/x.git',
    'github:vercel/ms',
    'gitlab:group/project',
    'bitbucket:team/repo',
    'gist:11081aaa281',
    'vercel/ms',
    'vercel/ms#semver:^2',
    'https://github.com/vercel/ms',
    'https://example.com/some/repo.git',
  ])('%s is a git dependency', (spec) => expect(isGitSpec(spec)).toBe(true));

  it.each([
    '^4.21.0',
    '1.x || >=2.5.0',
    'latest',
    'npm:ms@2.1.3',
    'file:vendor/ms',
    'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz',
    'https://github.com/vercel/ms/archive/refs/tags/2.1.3.tar.gz',
    './local',
    '@scope/pkg',
  ])('%s is not', (spec) => expect(isGitSpec(spec)).toBe(false));
});

describe('refuseGitDependencies', () => {
  it('names the group, the package and the spec', async () => {
    const err = (await refuseGitDependencies({
      dependencies: { ms: '^2' },
      optionalDependencies: { evil: 'github:x/y' },
    }).catch((e: unknown) => e)) as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/^package\.json: optionalDependencies "evil" is a git dependency \("github:x\/y"\)/);
  });

  it('lets registry dependencies and odd shapes through (npm reports those itself)', () => {
    expect(() =>
      refuseGitDependencies({ dependencies: { ms: '^2', x: 3 }, peerDependencies: 'nonsense' }),
    ).not.toThrow();
  });
});
