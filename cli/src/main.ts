import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { createCommandEnv } from './command-env.js';
import { loadConfig } from './config.js';
import { CliError, ExitCode, ExitStatus } from './errors.js';
import { buildProgram } from './program.js';
import { createUi } from './ui.js';

/** The `sidecar` process: wiring only (environment, streams, exit code); each command lives in its own file. */
async function main(argv: string[]): Promise<number> {
  const config = loadConfig();
  const ui = createUi({ stdout: process.stdout, stderr: process.stderr, plain: config.plain });
  const env = createCommandEnv({
    config,
    ui,
    cwd: process.cwd(),
    proc: process,
    self: { node: process.execPath, bin: fileURLToPath(new URL('../bin/sidecar.js', import.meta.url)) },
  });
  await buildProgram(env).parseAsync(argv, { from: 'user' });
  return ExitCode.ok;
}

function report(e: unknown): number {
  if (e instanceof ExitStatus) return e.exitCode;
  if (e instanceof CommanderError) {
    // commander has printed the message (and the usage hint) already; --help and --version are not errors.
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0
      ? ExitCode.ok
      : ExitCode.usage;
  }
  if (e instanceof CliError) {
    process.stderr.write(`sidecar: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof Error && e.name === 'AbortError') {
    process.stderr.write('sidecar: interrupted\n');
    return ExitCode.interrupted;
  }
  // Not foreseen: the whole error, for a bug report.
  process.stderr.write(`sidecar: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return ExitCode.failed;
}

let code: number;
try {
  code = await main(process.argv.slice(2));
} catch (e) {
  code = report(e);
}
// Explicit exit: idle keep-alive connections (Docker engine, API) must not hold the process open.
process.exit(code);
