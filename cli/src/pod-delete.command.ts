import type { CliConfig } from './config.js';
import { requestControl } from './control-socket.js';
import { connectDocker } from './engine.js';
import { CliError, ExitCode } from './errors.js';
import { adoptCliPod, podNameArg } from './pod-access.js';

/** Bounds the wait for a run process's deletion when the grace period is the pod's own (unknown here). */
const UNKNOWN_GRACE_BOUND_S = 3600;
/** Beyond the grace period: the stop-to-SIGKILL floor, removals, and slack for a busy engine. */
const DELETE_SLACK_S = 60;

/**
 * `sidecar pod delete NAME [--grace-period N]`. The run process supervising the pod does the deletion
 * (only it may stop containers it would otherwise restart); without one, a passive adoption does.
 */
export async function podDelete(
  input: { name: string; gracePeriodSeconds: number | undefined },
  deps: { config: Readonly<CliConfig>; out: NodeJS.WritableStream; note: (line: string) => void },
): Promise<ExitCode> {
  const name = podNameArg(input.name);
  const grace = input.gracePeriodSeconds;
  const reply = await requestControl({
    runDir: deps.config.runDir,
    pod: name,
    request: grace === undefined ? { op: 'delete' } : { op: 'delete', gracePeriodSeconds: grace },
    timeoutMs: ((grace ?? UNKNOWN_GRACE_BOUND_S) + DELETE_SLACK_S) * 1000,
  });
  if (typeof reply === 'object') {
    if ('error' in reply) throw new CliError(`pod "${name}": ${reply.error}`, ExitCode.failed);
  } else {
    if (reply === 'gone')
      deps.note(`the run process of pod ${name} ended without answering; deleting the pod directly`);
    const runner = await adoptCliPod(await connectDocker(deps.config), name);
    await runner.delete(grace === undefined ? {} : { gracePeriodSeconds: grace });
  }
  deps.out.write(`pod "${name}" deleted\n`);
  return ExitCode.ok;
}
