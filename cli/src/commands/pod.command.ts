import { type Command, InvalidArgumentError } from 'commander';
import type { CommandEnv } from '../command-env.js';
import { ExitStatus } from '../errors.js';
import { jsonLinesOutput } from '../output.js';
import { wholeNumber } from './options.js';

const POD_HELP = `
pod run FILE
  Runs FILE (YAML or JSON, one document; a v1 Pod or a batch/v1 Job; "-" reads stdin) on the local
  Docker engine as a Kubernetes 1.33 kubelet would, native sidecars included. Prints each lifecycle
  event as one JSON line {"time","container","reason","message"}, then the final status as one line
  {"status": <Pod status>} (a Job adds "job": {name, succeeded, failed, conditions, ...}). The pod's
  containers and volumes are removed at the end. SIGINT/SIGTERM delete the pod the same way as
  --timeout; a second signal removes it at once.

pod delete NAME
  Deletes a pod started by \`sidecar pod run\`: asks the supervising run process over its control
  socket (that process then prints the final status and exits), or, if none answers, deletes it directly.

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

/** A number of seconds > 0 (fractions allowed). */
const seconds = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a number > 0 (seconds)');
  return n;
};

/** `sidecar pod run|get|delete`: any Pod or Job manifest on the local Docker engine (the kubelet package). */
export function registerPod(program: Command, env: CommandEnv): void {
  const pod = program
    .command('pod')
    .description('run a Pod or batch/v1 Job manifest on the local Docker engine; get, delete')
    .addHelpText('after', POD_HELP);
  const output = () => jsonLinesOutput(process.stdout, process.stderr);
  pod
    .command('run')
    .description('run a Pod or batch/v1 Job manifest (YAML or JSON; "-" reads stdin)')
    .argument('<file>')
    .option('--timeout <seconds>', 'delete the pod (grace rules) once it has run this long; exit 1', seconds)
    .option('--keep', "leave the ended pod's containers and volumes (`sidecar pod delete NAME` removes them)")
    .action(async (file: string, opts: { timeout?: number; keep?: boolean }) => {
      // Loaded when used: the Docker client and the kubelet are not needed by the API commands.
      const { podRun } = await import('../pod-run.command.js');
      const code = await podRun(
        { file, timeoutSeconds: opts.timeout, keep: opts.keep ?? false },
        { config: env.config, output: output(), proc: process },
      );
      throw new ExitStatus(code);
    });
  pod
    .command('delete')
    .description('delete a pod started by `sidecar pod run`, with the grace rules')
    .argument('<name>')
    .option(
      '--grace-period <seconds>',
      "instead of the pod's terminationGracePeriodSeconds (default 30)",
      wholeNumber('--grace-period'),
    )
    .action(async (name: string, opts: { gracePeriod?: number }) => {
      const { podDelete } = await import('../pod-delete.command.js');
      const code = await podDelete(
        { name, gracePeriodSeconds: opts.gracePeriod },
        { config: env.config, out: process.stdout, note: output().note },
      );
      throw new ExitStatus(code);
    });
  pod
    .command('get')
    .description("print a pod's status")
    .argument('<name>')
    .action(async (name: string) => {
      const { podGet } = await import('../pod-get.command.js');
      throw new ExitStatus(await podGet(name, { config: env.config, out: process.stdout }));
    });
}
