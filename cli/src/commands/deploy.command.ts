import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { Command } from 'commander';
import { AppView, DeployView } from '@sidecar/core/wire';
import type { CommandEnv } from '../command-env.js';
import { ApiError, ExitCode, ExitStatus } from '../errors.js';
import { linkApp } from '../platform/app-link.js';
import type { ApiClient } from '../platform/client.js';
import { followDeploy, reportDeploy } from '../platform/follow.js';
import { packBundle } from '../platform/pack.js';
import { humanBytes, type Ui } from '../ui.js';
import { appOption, contextOf } from './options.js';

interface DeployOptions {
  app?: string;
  includeGit?: boolean;
  includeNodeModules?: boolean;
}

/** `sidecar deploy [DIR]`: pack, upload with progress, stream the build and rollout, exit 0 once it serves. */
export function registerDeploy(program: Command, env: CommandEnv): void {
  program
    .command('deploy')
    .description('pack DIR, upload it, stream the build and rollout log; exit 0 once the new release serves')
    .argument('[dir]', 'the app folder', '.')
    .addOption(appOption())
    .option('--include-git', 'pack .git too (left out by default)')
    .option('--include-node-modules', 'pack node_modules too (left out by default: the build installs dependencies)')
    .addHelpText(
      'after',
      '\nFiles matched by .gitignore and .sidecarignore (in any folder, as git reads them) are left out.\nThe app is created when it does not exist yet; DIR/.sidecar.json then remembers it.',
    )
    .action(async (dirArg: string, opts: DeployOptions, cmd: Command) => {
      const dir = resolve(env.cwd, dirArg);
      const client = await env.client(contextOf(cmd));
      const name = await env.app(client, opts.app, dir);
      const signal = env.interrupt();
      const scratch = await mkdtemp(join(tmpdir(), 'sidecar-deploy-'));
      try {
        const bundle = join(scratch, 'bundle.tar.gz');
        const packed = await packBundle(dir, bundle, {
          includeGit: opts.includeGit ?? false,
          includeNodeModules: opts.includeNodeModules ?? false,
        });
        env.ui.note(`Packed ${packed.files} files (${humanBytes(packed.bytes)}) from ${dirArg}`);
        const app = await ensureApp(client, name, env.ui);
        const deploy = await upload({ client, app: name, file: bundle, bytes: packed.bytes, ui: env.ui, signal });
        if (await linkApp(dir, name))
          env.ui.note(env.ui.c.dim(`${dirArg}/.sidecar.json: this folder deploys as ${name}`));
        env.ui.note(`Deploy ${deploy.id}: building and rolling out`);
        const ended = await followDeploy({
          client,
          deploy,
          printLog: (line) => env.ui.write(`${line}\n`),
          signal,
        }).catch((e: unknown) => {
          if (!signal.aborted) throw e;
          env.ui.note(`stopped following deploy ${deploy.id}; it goes on (sidecar releases, sidecar logs)`);
          throw new ExitStatus(ExitCode.interrupted);
        });
        if (!reportDeploy(env.ui, ended, app.url)) throw new ExitStatus(ExitCode.failed);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    });
}

/** The app, created when it does not exist yet (a first deploy is one command). */
async function ensureApp(client: ApiClient, name: string, ui: Ui): Promise<AppView> {
  try {
    return await client.json('GET', `/apps/${name}`, AppView);
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 'app_not_found')) throw e;
    const app = await client.json('POST', '/apps', AppView, { json: { name } });
    ui.note(`Created app ${ui.c.bold(name)}`);
    return app;
  }
}

async function upload(o: {
  client: ApiClient;
  app: string;
  file: string;
  bytes: number;
  ui: Ui;
  signal: AbortSignal;
}): Promise<DeployView> {
  const progress = o.ui.progress(o.bytes, 'Uploading');
  let sent = 0;
  const counted = createReadStream(o.file).pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        progress.update(sent);
        done(null, chunk);
      },
    }),
  );
  try {
    return await o.client.json('POST', `/apps/${o.app}/deploys`, DeployView, {
      body: Readable.toWeb(counted) as ReadableStream<Uint8Array>,
      contentType: 'application/gzip',
      contentLength: o.bytes,
      signal: o.signal,
    });
  } finally {
    progress.stop();
  }
}
