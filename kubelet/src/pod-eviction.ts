import { Labels } from '@sidecar/core';
import type Docker from 'dockerode';
import { ContainerRole, POD_SPEC_LABEL } from './container-options.js';
import { MIN_GRACE_MS } from './pod-planner.js';
import type { DrainLogs } from './pod-runner.js';
import { isNotFound, isNotModified, listPodContainers, removePodObjects } from './pod-sandbox.js';

const DEFAULT_GRACE_SECONDS = 30;

/**
 * Stops and removes a pod no runner can take over (`PodRunner.adopt` failed: its stored spec is
 * unreadable, a container or its sandbox is missing, ...), as gracefully as its labels allow: every
 * running container other than sidecars gets its stop signal at once, then the sidecars one at a time
 * in reverse spec order (rule 16; all together if the stored spec cannot be read), each with what is
 * left of one grace budget (rule 13; the stored spec's, else `gracePeriodSeconds`, else 30 s) and
 * SIGKILL after it (`docker stop`, never sooner than 2 s). Then (after `drainLogs`, if given) everything
 * the pod owns is removed.
 */
export async function evictPod(
  docker: Docker,
  pod: string,
  opts: { gracePeriodSeconds?: number; drainLogs?: DrainLogs } = {},
): Promise<void> {
  const containers = await listPodContainers(docker, pod);
  const pause = containers.find((c) => c.Labels[Labels.role] === ContainerRole.pause);
  const spec = storedSpec(pause?.Labels[POD_SPEC_LABEL]);
  const grace = opts.gracePeriodSeconds ?? spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  const deadline = Date.now() + grace * 1000;
  // A frozen container (`docker pause`: a warm or idle pod) cannot run its signal handler: thawed first.
  const paused = containers.filter((c) => c.State === 'paused');
  await Promise.all(
    paused.map((c) =>
      docker
        .getContainer(c.Id)
        .unpause()
        .catch(async (e: unknown) => {
          // Gone, or no longer paused (the engine answers 500 for that): nothing to thaw.
          if (isNotFound(e)) return;
          const state = await docker
            .getContainer(c.Id)
            .inspect()
            .then(
              (i) => i.State,
              () => undefined,
            );
          if (state?.Paused) throw e;
        }),
    ),
  );
  const running = containers.filter(
    (c) => (c.State === 'running' || c.State === 'paused') && c.Labels[Labels.role] !== ContainerRole.pause,
  );
  const stop = async (c: Docker.ContainerInfo) => {
    const seconds = Math.ceil(Math.max(deadline - Date.now(), MIN_GRACE_MS) / 1000);
    try {
      await docker.getContainer(c.Id).stop({ t: seconds });
    } catch (e) {
      if (!isNotModified(e) && !isNotFound(e)) throw e; // already stopped, or gone: what we wanted
    }
  };
  const isSidecar = (c: Docker.ContainerInfo) => c.Labels[Labels.role] === ContainerRole.sidecar;
  await Promise.all(running.filter((c) => !isSidecar(c)).map(stop));
  const order = spec?.initContainers ?? [];
  const position = (c: Docker.ContainerInfo) => order.indexOf(c.Labels[Labels.container] ?? '');
  const sidecars = running.filter(isSidecar).sort((a, b) => position(b) - position(a));
  if (sidecars.every((c) => position(c) >= 0)) for (const c of sidecars) await stop(c);
  else await Promise.all(sidecars.map(stop));
  // As PodRunner.delete does: what the stopped containers wrote is read to the end before they go.
  await opts.drainLogs?.(pod).catch(() => undefined);
  await removePodObjects(docker, pod);
}

/** What the pause container's stored spec still tells, if it parses at all. */
function storedSpec(
  label: string | undefined,
): { terminationGracePeriodSeconds?: number; initContainers: string[] } | undefined {
  if (label === undefined) return undefined;
  try {
    const spec = (JSON.parse(label) as { spec?: { terminationGracePeriodSeconds?: unknown; initContainers?: unknown } })
      .spec;
    const inits = Array.isArray(spec?.initContainers) ? (spec.initContainers as { name?: unknown }[]) : [];
    const grace = spec?.terminationGracePeriodSeconds;
    return {
      ...(typeof grace === 'number' && grace >= 0 ? { terminationGracePeriodSeconds: grace } : {}),
      initContainers: inits.map((c) => (typeof c?.name === 'string' ? c.name : '')),
    };
  } catch {
    return undefined;
  }
}
