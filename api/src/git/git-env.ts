import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GitSettings } from './git-settings.js';

const execFileAsync = promisify(execFile);

/** fsck message ids found in old, sound repositories (see git-fsck's docs), ignored on push. */
const LEGACY_FSCK_IDS = ['zeroPaddedFilemode', 'badTimezone', 'missingSpaceBeforeDate', 'badDate'] as const;

export const hooksDir = (s: GitSettings) => join(s.root, '.hooks');

/**
 * The environment every git process of the platform runs with. Built from scratch, not from
 * process.env: the hook inherits it, and it must not see the admin token or the Redis URL.
 * The platform's git settings travel as GIT_CONFIG_COUNT entries, so they hold whatever a
 * repository's own config says and no repository needs setting up beyond `git init --bare`.
 */
export function gitEnv(s: GitSettings, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const config: Array<[string, string]> = [
    ['core.hooksPath', hooksDir(s)],
    ['http.receivepack', 'true'],
    // Force pushes and branch deletions are the user's call, as on Heroku and Dokku.
    ['receive.denyNonFastForwards', 'false'],
    ['receive.denyDeletes', 'false'],
    ['receive.denyDeleteCurrent', 'ignore'],
    ['receive.maxInputSize', String(s.maxPushBytes)],
    // Every pushed object is checked: a malformed one (e.g. a tree entry named `.git` or `..`) refuses the push.
    // Transfer checks treat fsck warnings as errors; these few only flag metadata that old git versions and
    // importers wrote (never paths), and real repositories carry them, so they are let through.
    ['receive.fsckObjects', 'true'],
    ...LEGACY_FSCK_IDS.map((id): [string, string] => [`receive.fsck.${id}`, 'ignore']),
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: s.root,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_COUNT: String(config.length),
  };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return { ...env, ...extra };
}

/** Runs git with an argument array (never a shell) and returns its stdout. */
export async function runGit(s: GitSettings, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileAsync('git', args, {
    env: gitEnv(s, env),
    maxBuffer: 16 * 1024 * 1024,
    encoding: 'utf8',
  });
  return stdout;
}
