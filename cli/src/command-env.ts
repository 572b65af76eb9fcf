import type { CliConfig } from './config.js';
import { ApiClient } from './platform/client.js';
import { resolveApp } from './platform/app-link.js';
import { resolveTarget, type Target } from './platform/contexts.js';
import type { Ui } from './ui.js';

/** What every command works with; main.ts makes the one real instance. */
export interface CommandEnv {
  config: Readonly<CliConfig>;
  ui: Ui;
  cwd: string;
  /** The API and token (`--context`, SIDECAR_API_URL, SIDECAR_TOKEN). */
  target(context: string | undefined): Promise<Target>;
  client(context: string | undefined): Promise<ApiClient>;
  /** The app of a command: `--app`, else `dir`'s `.sidecar.json`, else its sidecar git remote. */
  app(client: ApiClient, flag: string | undefined, dir?: string): Promise<string>;
  /** Aborts on the first Ctrl-C (or SIGTERM) once a command asks for it; a second one exits at once. */
  interrupt(): AbortSignal;
  /** The program that runs the CLI itself (for git's credential helper). */
  self: { node: string; bin: string };
}

export function createCommandEnv(opts: {
  config: Readonly<CliConfig>;
  ui: Ui;
  cwd: string;
  proc: NodeJS.Process;
  self: { node: string; bin: string };
}): CommandEnv {
  let interrupt: AbortController | undefined;
  return {
    config: opts.config,
    ui: opts.ui,
    cwd: opts.cwd,
    self: opts.self,
    target: (context) => resolveTarget(opts.config, context),
    client: async (context) => new ApiClient(await resolveTarget(opts.config, context)),
    app: (client, flag, dir) => resolveApp({ flag, dir: dir ?? opts.cwd, api: client.target.api }),
    interrupt() {
      if (!interrupt) {
        const ac = (interrupt = new AbortController());
        const onSignal = () => {
          if (ac.signal.aborted) opts.proc.exit(130);
          ac.abort();
        };
        opts.proc.on('SIGINT', onSignal);
        opts.proc.on('SIGTERM', onSignal);
      }
      return interrupt.signal;
    },
  };
}
