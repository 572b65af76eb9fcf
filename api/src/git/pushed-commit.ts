import { spawn } from 'node:child_process';
import { basename, dirname, join, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { type DeployCommit, DomainError, ErrorCode } from '@sidecar/core';
import { gitEnv, runGit } from './git-env.js';
import type { GitSettings } from './git-settings.js';

/** A commit message is kept whole up to this size; beyond it, cut (it is a label, not an archive). */
const MAX_MESSAGE = 4096;

/**
 * Access to the objects of a push that is still being decided on. During pre-receive git keeps
 * them in a quarantine directory inside the repository (GIT_QUARANTINE_PATH); reading the pushed
 * commit means pointing git at that directory, with the repository's own objects as alternates.
 */
export class PushedObjects {
  private readonly env: Record<string, string>;

  constructor(
    private readonly s: GitSettings,
    private readonly repo: string,
    quarantine: string | null,
  ) {
    const objects = join(repo, 'objects');
    this.env = { GIT_DIR: repo };
    if (quarantine !== null) {
      // The path arrives from the hook over HTTP: accept only git's own quarantine directory of this repository.
      const q = resolve(quarantine);
      if (dirname(q) !== resolve(objects) || !/^tmp_objdir-incoming-[A-Za-z0-9_]+$/.test(basename(q))) {
        throw new DomainError(ErrorCode.invalidRequest, 'the hook sent a quarantine path outside the repository');
      }
      this.env.GIT_OBJECT_DIRECTORY = q;
      this.env.GIT_ALTERNATE_OBJECT_DIRECTORIES = objects;
    }
  }

  /**
   * The disk the repository's objects take (`kept`) and what this push brings (`pushed`, its quarantine),
   * as `git count-objects -v` counts them: loose objects, packs and garbage.
   */
  async bytes(): Promise<{ kept: number; pushed: number }> {
    const kept = await objectBytes(this.s, { GIT_DIR: this.repo });
    const pushed = this.env.GIT_OBJECT_DIRECTORY ? await objectBytes(this.s, this.env) : 0;
    return { kept, pushed };
  }

  /** The commit's full SHA and message; a ref that points at anything but a commit is refused. */
  async commit(sha: string): Promise<DeployCommit> {
    if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new DomainError(ErrorCode.invalidRequest, `not a commit id: ${sha}`);
    const full = await runGit(this.s, ['rev-parse', '--verify', '--quiet', `${sha}^{commit}`], this.env).then(
      (out) => out.trim(),
      () => {
        throw new DomainError(
          ErrorCode.bundleInvalid,
          `${sha.slice(0, 7)} is not a commit; push a branch that points at one`,
        );
      },
    );
    const message = (await runGit(this.s, ['show', '-s', '--format=%B', full], this.env)).trim();
    return { sha: full, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message };
  }

  /**
   * `git archive` of the commit as a tar.gz: tracked files only, so ignored and untracked files never
   * ship. The stream ends only when git succeeded and fails otherwise, so a half-written archive
   * never becomes a bundle. Destroying the stream stops git.
   */
  archive(sha: string): Readable {
    const child = spawn('git', ['archive', '--format=tar.gz', sha], {
      env: gitEnv(this.s, this.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = new PassThrough();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
    child.stdout.pipe(out, { end: false });
    child.once('error', (e) => out.destroy(e));
    child.once('close', (code, signal) => {
      if (code === 0) out.end();
      else
        out.destroy(
          new DomainError(
            ErrorCode.bundleInvalid,
            `git archive ${sha.slice(0, 7)} failed (${code ?? signal}): ${stderr.trim()}`,
          ),
        );
    });
    out.once('close', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
    return out;
  }
}

/** `git count-objects -v` in bytes: its sizes are KiB of loose objects, packs and garbage in the object directory. */
async function objectBytes(s: GitSettings, env: Record<string, string>): Promise<number> {
  const out = await runGit(s, ['count-objects', '-v'], env);
  const kib = (key: string) => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
  return (kib('size') + kib('size-pack') + kib('size-garbage')) * 1024;
}
