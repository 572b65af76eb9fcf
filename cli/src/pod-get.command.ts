import type { PodView } from '@sidecar/core';
import type { CliConfig } from './config.js';
import { requestControl } from './control-socket.js';
import { connectDocker } from './engine.js';
import { CliError, ExitCode } from './errors.js';
import { adoptCliPod, podNameArg } from './pod-access.js';

const GET_TIMEOUT_MS = 10_000;

/** `sidecar pod get NAME`: prints `{"status": ...}`; from the run process if one supervises the pod. */
export async function podGet(
  nameArg: string,
  deps: { config: Readonly<CliConfig>; out: NodeJS.WritableStream },
): Promise<ExitCode> {
  const name = podNameArg(nameArg);
  const reply = await requestControl({
    runDir: deps.config.runDir,
    pod: name,
    request: { op: 'get' },
    timeoutMs: GET_TIMEOUT_MS,
  });
  let status: PodView;
  if (typeof reply === 'object') {
    if ('error' in reply) throw new CliError(`pod "${name}": ${reply.error}`, ExitCode.failed);
    status = reply.status;
  } else {
    const runner = await adoptCliPod(await connectDocker(deps.config), name);
    try {
      status = runner.status();
    } finally {
      await runner.close();
    }
  }
  deps.out.write(`${JSON.stringify({ status })}\n`);
  return ExitCode.ok;
}
