import { DomainError, ErrorCode } from '@sidecar/core';
import { PodRunner } from '@sidecar/kubelet';
import type Docker from 'dockerode';
import { cliPods } from './engine.js';
import { CliError, ExitCode, PodNotFoundError, UsageError } from './errors.js';
import { DNS_LABEL } from './pod-names.js';

/** A pod name from the command line; it also names a file (the control socket), so it is checked first. */
export function podNameArg(name: string): string {
  if (!DNS_LABEL.test(name)) throw new UsageError(`"${name}" is not a pod name (a DNS-1123 label)`);
  return name;
}

/**
 * For `pod get|delete` when no run process supervises the pod (it was kept with --keep, or its run
 * process died): rebuild a passive view of it. Passive: nothing is started or restarted, so this
 * never competes with anyone (rules 6, 12). Only pods the CLI started are touched.
 */
export async function adoptCliPod(docker: Docker, name: string): Promise<PodRunner> {
  if (!(await cliPods(docker)).includes(name)) {
    if ((await PodRunner.list(docker)).includes(name)) {
      throw new CliError(
        `pod "${name}" was not started by \`sidecar pod run\` (a platform owns it); not touching it`,
        ExitCode.failed,
      );
    }
    throw new PodNotFoundError(name);
  }
  try {
    return await PodRunner.adopt({ docker, podName: name, supervise: false });
  } catch (e) {
    // Removed between the listing and the adoption.
    if (e instanceof DomainError && e.code === ErrorCode.podNotFound) throw new PodNotFoundError(name);
    throw e;
  }
}
