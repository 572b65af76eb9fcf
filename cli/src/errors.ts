/** Exit codes of every `sidecar` command (documented in `sidecar pod --help` and cli/README.md). */
export const ExitCode = {
  /** run: the pod Succeeded (a Job completed); get/delete: done. */
  ok: 0,
  /** run: the pod Failed or was deleted before it completed; get/delete: no such pod; any Docker error. */
  failed: 1,
  /** Usage or manifest error: nothing was started. */
  usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type HelpTopic = 'root' | 'pod';

/** A failure the user can act on; `main` prints its message on one line and exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad command line: the message, then the usage of `topic`, on stderr; exit 2. */
export class UsageError extends CliError {
  readonly topic: HelpTopic;
  constructor(message: string, topic: HelpTopic) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
    this.topic = topic;
  }
}

/** The manifest cannot be run as given (unreadable, unparseable, invalid, name taken); nothing was started. */
export class ManifestError extends CliError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, ExitCode.usage, options);
    this.name = 'ManifestError';
  }
}

/** `pod get|delete NAME` found no pod of that name started by the CLI. */
export class PodNotFoundError extends CliError {
  constructor(name: string, detail = '') {
    super(`pod "${name}" not found${detail}`, ExitCode.failed);
    this.name = 'PodNotFoundError';
  }
}
