import { UsageError, type HelpTopic } from './errors.js';

/** What the command line asks for; parsing is pure (args.test.ts). */
export type Command =
  | { kind: 'help'; topic: HelpTopic }
  | { kind: 'pod-run'; file: string; timeoutSeconds: number | undefined; keep: boolean }
  | { kind: 'pod-delete'; name: string; gracePeriodSeconds: number | undefined }
  | { kind: 'pod-get'; name: string };

export const ROOT_USAGE = `Usage: sidecar <command> [flags]

Commands:
  pod run FILE       Run a Pod or batch/v1 Job manifest on the local Docker engine
  pod delete NAME    Delete a pod started by \`sidecar pod run\` (grace rules)
  pod get NAME       Print a pod's status

Run \`sidecar pod --help\` for flags, output, exit codes and environment.
`;

export const POD_USAGE = `Usage:
  sidecar pod run FILE [--timeout SECONDS] [--keep]
  sidecar pod delete NAME [--grace-period SECONDS]
  sidecar pod get NAME

pod run FILE
  Runs FILE (YAML or JSON, one document; a v1 Pod or a batch/v1 Job; "-" reads stdin) on the local
  Docker engine as a Kubernetes 1.33 kubelet would, native sidecars included. Prints each lifecycle
  event as one JSON line {"time","container","reason","message"}, then the final status as one line
  {"status": <Pod status>} (a Job adds "job": {name, succeeded, failed, conditions, ...}). The pod's
  containers and volumes are removed at the end.
  --timeout SECONDS  delete the pod (grace rules) once it has run this long (counted from its start;
                     for a Job, from its first pod's); exit 1
  --keep             leave the ended pod's containers and volumes (\`sidecar pod delete NAME\` removes them)
  SIGINT/SIGTERM delete the pod the same way as --timeout; a second signal removes it at once.

pod delete NAME
  Deletes a pod started by \`sidecar pod run\`: asks the supervising run process over its control
  socket (that process then prints the final status and exits), or, if none answers, deletes it directly.
  --grace-period SECONDS  instead of the pod's terminationGracePeriodSeconds (default 30)

pod get NAME
  Prints {"status": <Pod status>} of a pod started by \`sidecar pod run\`.

Exit codes:
  0  run: the pod Succeeded (a Job completed); get, delete: done
  1  run: the pod Failed, or was deleted before it completed (--timeout, a signal, pod delete,
     a Job's activeDeadlineSeconds); get, delete: no such pod; any Docker error
  2  usage or manifest error (nothing was started)

Environment:
  SIDECAR_BACKOFF_SCALE  multiplies the crash-loop back-off (default 1, the kubelet's: 10 s, 20 s,
                         40 s, ... capped at 300 s) and a Job's pod-failure back-off; e.g. 0.05 in tests
  SIDECAR_PAUSE_IMAGE    the pod's network-holder image (default: the platform's sidecar/pause image,
                         built locally on first use)
  SIDECAR_DOCKER_SOCKET  the Docker engine's socket (default /var/run/docker.sock)
  SIDECAR_RUN_DIR        where run processes put their control sockets (default $TMPDIR/sidecar-pods)
`;

export function usage(topic: HelpTopic): string {
  return topic === 'root' ? ROOT_USAGE : POD_USAGE;
}

/** After a usage error: the synopsis only, and where the rest is. */
export function shortUsage(topic: HelpTopic): string {
  if (topic === 'root') return ROOT_USAGE;
  const synopsis = POD_USAGE.slice(0, POD_USAGE.indexOf('\n\n') + 1);
  return `${synopsis}\nRun \`sidecar pod --help\` for flags, output, exit codes and environment.\n`;
}

const isHelp = (a: string) => a === '--help' || a === '-h';

export function parseArgs(argv: readonly string[]): Command {
  const [group, sub, ...rest] = argv;
  if (group === undefined || isHelp(group) || group === 'help') return { kind: 'help', topic: 'root' };
  if (group !== 'pod') throw new UsageError(`unknown command "${group}"`, 'root');
  if (sub === undefined) throw new UsageError('missing pod command (run, delete, get)', 'pod');
  if (isHelp(sub) || argv.slice(2).some(isHelp)) return { kind: 'help', topic: 'pod' };
  const { positional, flags } = split(rest);
  switch (sub) {
    case 'run': {
      const { timeout, keep, ...unknown } = flags;
      rejectUnknown(unknown);
      const file = onePositional(positional, 'FILE');
      return {
        kind: 'pod-run',
        file,
        timeoutSeconds:
          timeout === undefined ? undefined : number(timeout, '--timeout', { min: 0, exclusive: true, integer: false }),
        keep: flag(keep, '--keep'),
      };
    }
    case 'delete': {
      const { 'grace-period': grace, ...unknown } = flags;
      rejectUnknown(unknown);
      return {
        kind: 'pod-delete',
        name: onePositional(positional, 'NAME'),
        gracePeriodSeconds:
          grace === undefined
            ? undefined
            : number(grace, '--grace-period', { min: 0, exclusive: false, integer: true }),
      };
    }
    case 'get':
      rejectUnknown(flags);
      return { kind: 'pod-get', name: onePositional(positional, 'NAME') };
    default:
      throw new UsageError(`unknown pod command "${sub}"`, 'pod');
  }
}

/** Flags that take a value; every other flag is boolean. */
const VALUED = new Set(['timeout', 'grace-period']);

/** `--flag value`, `--flag=value`, boolean `--flag`; `--` ends flags; a lone `-` is a positional (stdin). */
function split(args: readonly string[]): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`unknown flag "${a}"`, 'pod');
    const eq = a.indexOf('=');
    const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
    if (name in flags) throw new UsageError(`flag --${name} given twice`, 'pod');
    if (eq !== -1) flags[name] = a.slice(eq + 1);
    else if (VALUED.has(name)) {
      const value = args[++i];
      if (value === undefined) throw new UsageError(`flag --${name} needs a value`, 'pod');
      flags[name] = value;
    } else flags[name] = true;
  }
  return { positional, flags };
}

function rejectUnknown(flags: Record<string, unknown>): void {
  const [first] = Object.keys(flags);
  if (first !== undefined) throw new UsageError(`unknown flag "--${first}"`, 'pod');
}

function onePositional(positional: string[], what: string): string {
  if (positional.length === 0) throw new UsageError(`missing ${what}`, 'pod');
  if (positional.length > 1) throw new UsageError(`unexpected argument "${positional[1]}"`, 'pod');
  return positional[0]!;
}

function flag(v: string | true | undefined, name: string): boolean {
  if (v === undefined) return false;
  if (v !== true) throw new UsageError(`flag ${name} takes no value`, 'pod');
  return true;
}

function number(v: string | true, name: string, rule: { min: number; exclusive: boolean; integer: boolean }): number {
  const n = v === true ? Number.NaN : Number(v);
  const ok =
    v !== true &&
    v.trim() !== '' &&
    Number.isFinite(n) &&
    (rule.exclusive ? n > rule.min : n >= rule.min) &&
    (!rule.integer || Number.isInteger(n));
  if (!ok) {
    const what = `${rule.integer ? 'an integer' : 'a number'} ${rule.exclusive ? '>' : '>='} ${rule.min}`;
    throw new UsageError(`${name} must be ${what} (seconds), got "${v === true ? '' : v}"`, 'pod');
  }
  return n;
}
