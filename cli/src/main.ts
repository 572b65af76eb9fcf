import { parseArgs, shortUsage, usage, type Command } from './args.js';
import { loadConfig } from './config.js';
import { CliError, ExitCode, UsageError } from './errors.js';
import { jsonLinesOutput } from './output.js';
import { podDelete } from './pod-delete.command.js';
import { podGet } from './pod-get.command.js';
import { podRun } from './pod-run.command.js';

/** The `sidecar` process: wiring only (arguments, environment, streams); each command lives in its own file. */
async function run(command: Command): Promise<ExitCode> {
  if (command.kind === 'help') {
    process.stdout.write(usage(command.topic));
    return ExitCode.ok;
  }
  const config = loadConfig();
  const output = jsonLinesOutput(process.stdout, process.stderr);
  switch (command.kind) {
    case 'pod-run':
      return podRun(
        { file: command.file, timeoutSeconds: command.timeoutSeconds, keep: command.keep },
        { config, output, proc: process },
      );
    case 'pod-get':
      return podGet(command.name, { config, out: process.stdout });
    case 'pod-delete':
      return podDelete(
        { name: command.name, gracePeriodSeconds: command.gracePeriodSeconds },
        { config, out: process.stdout, note: output.note },
      );
  }
}

function report(e: unknown): ExitCode {
  if (e instanceof UsageError) {
    process.stderr.write(`sidecar: ${e.message}\n\n${shortUsage(e.topic)}`);
    return e.exitCode;
  }
  if (e instanceof CliError) {
    process.stderr.write(`sidecar: ${e.message}\n`);
    return e.exitCode;
  }
  // Not foreseen: the whole error, for a bug report.
  process.stderr.write(`sidecar: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return ExitCode.failed;
}

let code: ExitCode;
try {
  code = await run(parseArgs(process.argv.slice(2)));
} catch (e) {
  code = report(e);
}
// Explicit exit: idle keep-alive connections to the Docker engine must not hold the process open.
process.exit(code);
