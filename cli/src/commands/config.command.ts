import type { Command } from 'commander';
import { AppView } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { ExitCode, ExitStatus, UsageError } from '../errors.js';
import type { ApiClient } from '../platform/client.js';
import { deployIds, followDeploy, reportDeploy, startedDeploy } from '../platform/follow.js';
import { appOption, contextOf, jsonOption, wholeNumber } from './options.js';

type Vars = 'env' | 'secrets';

/** `sidecar env`, `sidecar secrets`, `sidecar scale N`: settings whose change rolls out a new release. */
export function registerConfig(program: Command, env: CommandEnv): void {
  varsCommand(program, env, 'env', 'config variables');
  varsCommand(program, env, 'secrets', 'secrets (values are never shown or echoed)');
  scaleToZeroCommand(program, env);

  program
    .command('scale')
    .description('set the number of replicas and wait until the rollout is done')
    .argument('<replicas>', 'how many', wholeNumber('replicas', 0))
    .addOption(appOption())
    .action(async (replicas: number, opts: { app?: string }, cmd: Command) => {
      const app = await patchAndWait(env, { cmd, flag: opts.app, patch: { replicas }, what: `scaling to ${replicas}` });
      env.ui.out(`${app.name}: ${app.replicas} replica${app.replicas === 1 ? '' : 's'}`);
    });
}

/**
 * `sidecar scale-to-zero [on|off] [--idle-seconds N]`: shows or sets scale to zero (docs/scale-to-zero.md).
 * Saved at once; no release rolls out.
 */
function scaleToZeroCommand(program: Command, env: CommandEnv): void {
  program
    .command('scale-to-zero')
    .description('show or set scale to zero: suspend the app when idle, wake it on the next request')
    .argument('[state]', '`on` or `off` (nothing: show the setting)')
    .option(
      '--idle-seconds <n>',
      'seconds without a request before the app is suspended',
      wholeNumber('idle-seconds', 1),
    )
    .addOption(appOption())
    .addOption(jsonOption())
    .action(
      async (state: string | undefined, opts: { app?: string; json?: boolean; idleSeconds?: number }, cmd: Command) => {
        if (state !== undefined && state !== 'on' && state !== 'off')
          throw new UsageError(`scale-to-zero takes \`on\` or \`off\`, not "${state}"`);
        const client = await env.client(contextOf(cmd));
        const name = await env.app(client, opts.app);
        const patch = {
          ...(state !== undefined ? { enabled: state === 'on' } : {}),
          ...(opts.idleSeconds !== undefined ? { idleSeconds: opts.idleSeconds } : {}),
        };
        const app =
          Object.keys(patch).length > 0
            ? await client.json('PATCH', `/apps/${name}`, AppView, { json: { scaleToZero: patch } })
            : await client.json('GET', `/apps/${name}`, AppView);
        const s = app.scaleToZero;
        if (opts.json) return env.ui.json({ scaleToZero: s, status: app.status });
        env.ui.out(
          s.enabled
            ? `${app.name}: scale to zero on, suspended after ${s.idleSeconds} s idle (now ${app.status})`
            : `${app.name}: scale to zero off`,
        );
      },
    );
}

function varsCommand(program: Command, env: CommandEnv, kind: Vars, what: string): void {
  const { ui } = env;
  const group = program
    .command(kind)
    .description(`the app's ${what}; \`${kind} set K=V…\`, \`${kind} unset K…\``)
    .addOption(appOption())
    .addOption(jsonOption())
    .action(async (opts: { app?: string; json?: boolean }, cmd: Command) => {
      const client = await env.client(contextOf(cmd));
      const app = await client.json('GET', `/apps/${await env.app(client, opts.app)}`, AppView);
      const vars = app[kind];
      if (opts.json) return ui.json({ [kind]: vars });
      const keys = Object.keys(vars).sort();
      if (keys.length === 0) return ui.note(`${app.name} has no ${kind}`);
      // Secrets are answered masked: their keys are all there is to show.
      for (const k of keys) ui.out(kind === 'secrets' ? k : `${k}=${vars[k]}`);
    });
  group
    .command('set')
    .description(`set ${kind}: K=V …; a new release rolls out`)
    .argument('<pairs...>', 'K=V')
    .addOption(appOption())
    .action(async (pairs: string[], opts: { app?: string }, cmd: Command) => {
      const patch = Object.fromEntries(pairs.map(pair));
      const keys = Object.keys(patch).join(', ');
      await patchAndWait(env, {
        cmd,
        flag: opts.app ?? group.opts<{ app?: string }>().app,
        patch: { [kind]: patch },
        what: `setting ${keys}`,
      });
      ui.out(`Set ${keys}`);
    });
  group
    .command('unset')
    .description(`remove ${kind}: K …; a new release rolls out`)
    .argument('<keys...>', 'K')
    .addOption(appOption())
    .action(async (keys: string[], opts: { app?: string }, cmd: Command) => {
      const patch = Object.fromEntries(keys.map((k) => [k, null]));
      await patchAndWait(env, {
        cmd,
        flag: opts.app ?? group.opts<{ app?: string }>().app,
        patch: { [kind]: patch },
        what: `removing ${keys.join(', ')}`,
      });
      ui.out(`Unset ${keys.join(', ')}`);
    });
}

/** `K=V` (V may hold `=`); the API checks the name. */
function pair(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new UsageError(`"${arg.split('=')[0]}": give KEY=VALUE`);
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** PATCHes the app; when that rolls out a new release, waits until it serves (or fails: exit 1). */
async function patchAndWait(
  env: CommandEnv,
  o: { cmd: Command; flag: string | undefined; patch: Record<string, unknown>; what: string },
): Promise<AppView> {
  const client: ApiClient = await env.client(contextOf(o.cmd));
  const name = await env.app(client, o.flag);
  const before = await deployIds(client, name);
  const app = await client.json('PATCH', `/apps/${name}`, AppView, { json: o.patch });
  const rollout = await startedDeploy(client, name, before);
  if (!rollout) return app; // not deployed yet, or nothing its pods are made from changed
  const spinner = env.ui.spinner(`${o.what}: rolling out`);
  const ended = await followDeploy({ client, deploy: rollout, signal: env.interrupt() }).finally(() => spinner.stop());
  if (!reportDeploy(env.ui, ended, app.url)) throw new ExitStatus(ExitCode.failed);
  return client.json('GET', `/apps/${name}`, AppView);
}
