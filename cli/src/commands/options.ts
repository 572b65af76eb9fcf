import { type Command, InvalidArgumentError, Option } from 'commander';

export const appOption = () =>
  new Option('-a, --app <name>', 'the app (default: .sidecar.json here, or the sidecar git remote)');
export const jsonOption = () => new Option('--json', 'print one JSON document on stdout, nothing else there');

/** `--context` of the root command, from any subcommand. */
export const contextOf = (cmd: Command): string | undefined => (cmd.optsWithGlobals() as { context?: string }).context;

/** A whole number in [min, max], for commander's argument parsers (a bad one is a usage error, exit 2). */
export const wholeNumber =
  (what: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${what}: a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`,
      );
    }
    return n;
  };
