import { Labels, validatePod, type Probe } from '@sidecar/core';
import { ContainerRole, POD_SPEC_LABEL } from '@sidecar/kubelet';
import Docker from 'dockerode';
import type { RunningPlatform } from './platform.js';

export interface PodStatus {
  name: string;
  initContainerStatuses: Array<{ name: string; restartCount: number; ready: boolean }>;
  containerStatuses: Array<{ name: string; restartCount: number }>;
}

/**
 * The app's one serving pod, as `GET /pods` reports it (pods kept frozen for a rollback, `suspended`, left
 * out); fails when there is not exactly one.
 */
export async function podOf(p: RunningPlatform, app: string): Promise<PodStatus> {
  const all = (await (await p.api$(`/api/v1/apps/${app}/pods`)).json()) as {
    items: (PodStatus & { suspended?: unknown })[];
  };
  const items = all.items.filter((pod) => !pod.suspended);
  if (items.length !== 1) throw new Error(`expected one pod of ${app}, got ${items.length}`);
  return items[0]!;
}

/** A container's startup probe as the pod runs it on the Docker target (the spec its pause container records). */
export async function startupProbeOf(pod: string, container: string): Promise<Probe | undefined> {
  const [record] = await new Docker().listContainers({
    all: true,
    filters: { label: [`${Labels.pod}=${pod}`, `${Labels.role}=${ContainerRole.pause}`] },
  });
  if (!record) throw new Error(`no record of pod ${pod}`);
  const spec = validatePod(JSON.parse(record.Labels[POD_SPEC_LABEL]!)).spec;
  return [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === container)?.startupProbe;
}

/** Polls `f` until it returns a value (errors count as not yet), bounded by timeoutMs. */
export async function eventually<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
