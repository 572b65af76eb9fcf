/** Exit codes of every `sidecar` command (documented in `sidecar --help` and cli/README.md). */
export const ExitCode = {
  /** Done: the deploy serves, the job exited 0, the pod Succeeded. */
  ok: 0,
  /** Failed: an API error, a failed deploy, a pod that Failed, a Docker error. */
  failed: 1,
  /** Usage or manifest error: nothing was started. */
  usage: 2,
  /** Stopped by Ctrl-C before what it waited for ended. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the user can act on; `main` prints its message on one line and exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A bad command line (missing app, malformed K=V, ...): the message and a pointer to --help; exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
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

/** An answer of the API's problem+json: the detail for people, the stable code for scripts. */
export class ApiError extends CliError {
  readonly code: string;
  readonly status: number;
  constructor(opts: { status: number; code: string; detail: string }) {
    super(`${opts.detail} (${opts.code})`, ExitCode.failed);
    this.name = 'ApiError';
    this.code = opts.code;
    this.status = opts.status;
  }
}

/** Ends the command with this exit code, everything already said (a failed deploy, a job's own exit code). */
export class ExitStatus extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ExitStatus';
    this.exitCode = exitCode;
  }
}
