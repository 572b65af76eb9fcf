import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isValidAppName } from '@sidecar/core';
import { UsageError } from '../errors.js';
import { LINK_FILE } from './pack.js';

const run = promisify(execFile);

/** The app a folder deploys as, from its `.sidecar.json` (written by `create` and a first `deploy -a`). */
export async function linkedApp(dir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, LINK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const app = (JSON.parse(text) as { app?: unknown }).app;
  return isValidAppName(app) ? app : undefined;
}

/** Notes the app in `dir` unless the folder already names one. */
export async function linkApp(dir: string, app: string): Promise<boolean> {
  if ((await linkedApp(dir)) !== undefined) return false;
  await writeFile(join(dir, LINK_FILE), `${JSON.stringify({ app }, null, 2)}\n`);
  return true;
}

/** The app of a git remote made by `sidecar git-remote` (`<api>/git/<app>.git`) in `dir`'s repository. */
export async function gitRemoteApp(dir: string, api: string): Promise<string | undefined> {
  let out: string;
  try {
    out = (await run('git', ['-C', dir, 'remote', '-v'])).stdout;
  } catch {
    return undefined; // not a repository, or no git
  }
  const prefix = `${api}/git/`;
  const apps = new Set(
    out
      .split('\n')
      .map((l) => l.split(/\s+/)[1] ?? '')
      .filter((url) => url.startsWith(prefix) && url.endsWith('.git'))
      .map((url) => url.slice(prefix.length, -'.git'.length)),
  );
  return apps.size === 1 ? [...apps][0] : undefined;
}

/** `--app`, else the folder's `.sidecar.json`, else its sidecar git remote; a usage error when none names one. */
export async function resolveApp(opts: { flag: string | undefined; dir: string; api: string }): Promise<string> {
  const app = opts.flag ?? (await linkedApp(opts.dir)) ?? (await gitRemoteApp(opts.dir, opts.api));
  if (app === undefined) {
    throw new UsageError(`which app? give --app NAME (or run where ${LINK_FILE} or a sidecar git remote names it)`);
  }
  if (!isValidAppName(app)) throw new UsageError(`"${app}" is not an app name (1-30 of a-z, 0-9 and -)`);
  return app;
}
