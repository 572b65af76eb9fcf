import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { CreatedToken, GitInfo } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { ApiError, CliError, ExitCode } from '../errors.js';
import { readCliFile, updateCliFile } from '../platform/contexts.js';
import { appOption, contextOf } from './options.js';
import { readAll } from './input.js';

const git = promisify(execFile);

/**
 * `sidecar git-remote`: a git remote for the app that authenticates with a deployer token through a
 * credential helper (`sidecar git-credential`, reading the CLI's 0600 file): never in the URL or in
 * .git/config.
 */
export function registerGit(program: Command, env: CommandEnv): void {
  const { ui } = env;
  program
    .command('git-remote')
    .description('add a git remote for the app; pushes authenticate with a deployer token through a credential helper')
    .addOption(appOption())
    .option('--name <remote>', 'the remote name', 'sidecar')
    .action(async (opts: { app?: string; name: string }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const app = await env.app(client, opts.app);
      const { url } = await client.json('GET', `/apps/${app}/git`, GitInfo);
      const token = await deployerToken(env, contextOf(cmd), app);
      await updateCliFile(env.config.configFile, (f) => {
        f.gitCredentials[url] = token;
      });
      const inRepo = (args: string[]) => git('git', ['-C', env.cwd, ...args]);
      const remotes = (await inRepo(['remote'])).stdout.split('\n');
      await inRepo(
        remotes.includes(opts.name) ? ['remote', 'set-url', opts.name, url] : ['remote', 'add', opts.name, url],
      );
      const key = `credential.${url}`;
      // An empty helper first: helpers configured elsewhere (a store with stale passwords) are not asked.
      await inRepo(['config', '--local', '--unset-all', `${key}.helper`]).catch(() => undefined);
      await inRepo(['config', '--local', '--add', `${key}.helper`, '']);
      await inRepo(['config', '--local', '--add', `${key}.helper`, helperCommand(env.self)]);
      await inRepo(['config', '--local', `${key}.useHttpPath`, 'true']);
      ui.out(`Added remote ${opts.name} → ${url}`);
      ui.note(ui.c.dim(`git push ${opts.name} main deploys ${app}; the token stays in ${env.config.configFile}`));
    });

  program
    .command('git-credential', { hidden: true })
    .description("git's credential helper for remotes made by git-remote")
    .argument('[operation]', 'get, store or erase (only get answers)')
    .action(async (operation: string | undefined) => {
      if (operation !== 'get') return; // store/erase: the token lives in the CLI's file, not in git
      const asked = parseCredentialRequest(await readAll(process.stdin));
      const file = await readCliFile(env.config.configFile);
      const url = `${asked.protocol}://${asked.host}/${asked.path ?? ''}`.replace(/\/+$/, '');
      const token = file.gitCredentials[url];
      if (token) ui.write(`username=sidecar\npassword=${token}\n`);
    });
}

/**
 * A token for the remote: a new deployer token for just this app when the CLI's token is an admin's;
 * otherwise the CLI's own (already a deployer's).
 */
async function deployerToken(env: CommandEnv, context: string | undefined, app: string): Promise<string> {
  const target = await env.target(context);
  const client = await env.client(context);
  try {
    const t = await client.json('POST', '/tokens', CreatedToken, {
      json: { name: `git-remote ${app}`, role: 'deployer', apps: [app] },
    });
    env.ui.note(env.ui.c.dim(`made deployer token ${t.id} for ${app}`));
    return t.token;
  } catch (e) {
    if (e instanceof ApiError && e.code === 'forbidden') return target.token;
    throw e;
  }
}

/** The helper as git runs it (through the shell): this very CLI, quoted. */
function helperCommand(self: { node: string; bin: string }): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `!${q(self.node)} ${q(self.bin)} git-credential`;
}

/** git's credential protocol: `key=value` lines. */
function parseCredentialRequest(text: string): { protocol?: string; host?: string; path?: string } {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (!out.protocol || !out.host) throw new CliError('git sent no protocol or host', ExitCode.failed);
  return out;
}
