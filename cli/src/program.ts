import { Command } from 'commander';
import type { CommandEnv } from './command-env.js';
import { registerApps } from './commands/apps.command.js';
import { registerAuth } from './commands/auth.command.js';
import { registerCompletion } from './commands/completion.command.js';
import { registerConfig } from './commands/config.command.js';
import { registerDeploy } from './commands/deploy.command.js';
import { registerGit } from './commands/git.command.js';
import { registerLogs } from './commands/logs.command.js';
import { registerPod } from './commands/pod.command.js';
import { registerPods } from './commands/pods.command.js';
import { registerReleases } from './commands/releases.command.js';
import { registerRun } from './commands/run.command.js';
import { registerTokens } from './commands/tokens.command.js';

const EXIT_CODES = `
Exit codes: 0 done (a deploy serves, a job exited 0, a pod Succeeded); 1 failed (the API's error is
shown as one line with its code); 2 usage error; 130 interrupted; \`run\` exits with the job's code.
Environment: SIDECAR_API_URL and SIDECAR_TOKEN override the context; NO_COLOR turns colour off.`;

/** The `sidecar` command tree. Parsing errors throw (exitOverride): main.ts turns them into exit 2. */
export function buildProgram(env: CommandEnv): Command {
  const program = new Command('sidecar')
    .description('Sidecar PaaS: deploy apps, follow logs, roll back, run jobs; run Pod manifests on local Docker')
    .option('--context <name>', 'use this saved context instead of the current one')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    })
    .addHelpText('after', EXIT_CODES);
  registerAuth(program, env);
  registerApps(program, env);
  registerDeploy(program, env);
  registerLogs(program, env);
  registerReleases(program, env);
  registerConfig(program, env);
  registerRun(program, env);
  registerPods(program, env);
  registerTokens(program, env);
  registerGit(program, env);
  registerPod(program, env);
  registerCompletion(program, env);
  // `--context` is taken after the command too (`sidecar apps --context prod`), by every command that calls the API.
  const offline = new Set(['pod', 'completion']);
  const addContext = (cmd: Command) => {
    cmd.option('--context <name>', 'use this saved context instead of the current one');
    cmd.commands.forEach(addContext);
  };
  program.commands.filter((c) => !offline.has(c.name())).forEach(addContext);
  return program;
}
