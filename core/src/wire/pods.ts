import { z } from 'zod';
import { Timestamp } from './common.js';

export const ContainerStatus = z
  .object({
    name: z.string(),
    image: z.string(),
    sidecar: z.boolean().meta({ description: 'A native sidecar (an init container with restartPolicy Always)' }),
    started: z.boolean(),
    ready: z.boolean(),
    restartCount: z.number().int(),
    state: z.object({
      waiting: z.object({ reason: z.string(), message: z.string().optional() }).optional(),
      running: z.object({ startedAt: Timestamp }).optional(),
      terminated: z
        .object({
          exitCode: z.number().int(),
          reason: z.string(),
          startedAt: Timestamp.nullable(),
          finishedAt: Timestamp,
        })
        .optional(),
    }),
  })
  .meta({ id: 'ContainerStatus', description: 'After Kubernetes v1.ContainerStatus' });
export type ContainerStatus = z.infer<typeof ContainerStatus>;

export const PodEvent = z
  .object({
    time: Timestamp,
    container: z.string().meta({ description: 'Empty for an event of the pod itself' }),
    reason: z
      .string()
      .meta({ description: "kubelet's: Pulled, Created, Started, Killing, Unhealthy, BackOff, plus Ready and Exited" }),
    message: z.string(),
  })
  .meta({ id: 'PodEvent' });
export type PodEvent = z.infer<typeof PodEvent>;

export const PodView = z
  .object({
    name: z.string(),
    release: z.number().int().nullable(),
    suspended: z
      .object({
        reason: z.enum(['warm', 'idle']).meta({
          description: 'warm: the previous release kept frozen for an instant rollback; idle: an app scaled to zero',
        }),
        since: Timestamp,
        memoryBytes: z
          .number()
          .int()
          .nullable()
          .meta({ description: 'Resident memory its containers keep while frozen; null until measured' }),
        until: Timestamp.optional().meta({ description: 'A warm pod is stopped then unless a rollback takes it back' }),
      })
      .optional()
      .meta({ description: 'Set while the pod is frozen (cgroup freezer; Docker target)' }),
    phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed']),
    ready: z.boolean(),
    conditions: z.array(
      z.object({
        type: z.string(),
        status: z.enum(['True', 'False']),
        reason: z.string().optional(),
        message: z.string().optional(),
        lastTransitionTime: Timestamp.optional().meta({
          description:
            "When the status last changed, as Kubernetes' lastTransitionTime (Docker target: to the millisecond, counted from when the worker began or adopted the pod; Kubernetes reports whole seconds)",
        }),
      }),
    ),
    initContainerStatuses: z.array(ContainerStatus),
    containerStatuses: z.array(ContainerStatus),
    events: z.array(PodEvent).meta({ description: 'Ordered: the lifecycle timeline' }),
  })
  .meta({ id: 'Pod', description: 'After Kubernetes v1.PodStatus' });
export type PodView = z.infer<typeof PodView>;

export const ProcessList = z
  .object({
    items: z.array(
      z.object({
        pid: z.number().int().meta({ description: 'As seen inside the pod' }),
        command: z.string(),
        cpuPercent: z.number().meta({ description: 'Over a 0.5 s sample' }),
        memoryBytes: z.number().int().meta({ description: 'Resident memory' }),
      }),
    ),
    time: Timestamp.nullable().meta({ description: 'When the worker took the snapshot; null before the first' }),
  })
  .meta({ id: 'ProcessList' });
export type ProcessList = z.infer<typeof ProcessList>;
