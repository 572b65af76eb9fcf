import type { Command } from 'commander';
import { TokenView } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { CliError, ExitCode, UsageError } from '../errors.js';
import { ApiClient } from '../platform/client.js';
import { readCliFile, updateCliFile } from '../platform/contexts.js';
import { table } from '../ui.js';
import { contextOf, jsonOption } from './options.js';
import { readAll, readSecret } from './input.js';

const DEFAULT_API = 'http://127.0.0.1:3000';

/** login, logout, whoami, context: where the CLI sends requests, with which token. */
export function registerAuth(program: Command, env: CommandEnv): void {
  const { ui } = env;
  program
    .command('login')
    .description('check a token against the API and save the API URL and token as a context')
    .option('--api <url>', `the API (default: SIDECAR_API_URL, the context's, or ${DEFAULT_API})`)
    .option('--token-stdin', 'read the token from stdin (else SIDECAR_TOKEN, else a prompt)')
    .addHelpText(
      'after',
      '\nThe token is checked first; the file is written mode 0600. --context NAME names the context.',
    )
    .action(async (opts: { api?: string; tokenStdin?: boolean }, cmd: Command) => {
      const file = await readCliFile(env.config.configFile);
      const wanted = contextOf(cmd);
      const existing = wanted ? file.contexts[wanted] : file.current ? file.contexts[file.current] : undefined;
      const api = (opts.api ?? env.config.apiUrl ?? existing?.api ?? DEFAULT_API).replace(/\/+$/, '');
      if (!/^https?:\/\/[^/]+/.test(api)) throw new UsageError(`--api: an http(s) URL, not "${api}"`);
      const token = opts.tokenStdin
        ? (await readAll(process.stdin)).trim()
        : (env.config.token ?? (await readSecret('API token: ', process.stdin, process.stderr)));
      if (!token) throw new UsageError('no token given (--token-stdin, SIDECAR_TOKEN, or type it at the prompt)');
      const me = await new ApiClient({ api, token }).json('GET', '/whoami', TokenView);
      const name = wanted ?? new URL(api).host;
      await updateCliFile(env.config.configFile, (f) => {
        f.contexts[name] = { api, token };
        f.current = name;
      });
      ui.out(`Logged in to ${api} as ${ui.c.bold(me.name)} (${me.role}); context "${name}"`);
    });

  program
    .command('logout')
    .description('forget the token of the current context (or of --context NAME)')
    .action(async (_opts: object, cmd: Command) => {
      const file = await readCliFile(env.config.configFile);
      const name = contextOf(cmd) ?? file.current;
      if (!name || !file.contexts[name]) throw new CliError('not logged in', ExitCode.failed);
      await updateCliFile(env.config.configFile, (f) => {
        delete f.contexts[name];
        if (f.current === name) f.current = Object.keys(f.contexts)[0] ?? null;
      });
      ui.out(`Logged out of context "${name}"`);
    });

  program
    .command('whoami')
    .description('the token in use: its name, role and apps, and where it is sent')
    .addOption(jsonOption())
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const target = await env.target(contextOf(cmd));
      const me = await new ApiClient(target).json('GET', '/whoami', TokenView);
      if (opts.json) return ui.json({ ...me, api: target.api, context: target.context });
      ui.out(`${me.name} (${me.role}${me.apps ? `: ${me.apps.join(', ')}` : ''}) on ${target.api}`);
      if (target.context) ui.note(ui.c.dim(`context "${target.context}"`));
    });

  const context = program
    .command('context')
    .description('list the saved contexts (sidecar context use NAME switches)')
    .addOption(jsonOption())
    .action(async (opts: { json?: boolean }) => {
      const file = await readCliFile(env.config.configFile);
      const items = Object.entries(file.contexts).map(([name, c]) => ({
        name,
        api: c.api,
        current: name === file.current,
      }));
      if (opts.json) return ui.json({ items });
      if (items.length === 0) return ui.note('no contexts yet: sidecar login --api URL');
      for (const line of table([['', 'NAME', 'API'], ...items.map((i) => [i.current ? '*' : '', i.name, i.api])]))
        ui.out(line);
    });
  context
    .command('use')
    .description('make NAME the current context')
    .argument('<name>')
    .action(async (name: string) => {
      await updateCliFile(env.config.configFile, (f) => {
        if (!f.contexts[name]) throw new UsageError(`no context "${name}" (sidecar context lists them)`);
        f.current = name;
      });
      ui.out(`Using context "${name}"`);
    });
}
