/**
 * Whether a Deployment's rollout is done, decided exactly as `kubectl rollout status` does
 * (kubectl `polymorphichelpers/rollout_status.go`, DeploymentStatusViewer):
 * nothing counts until the controller has observed the current generation; then a
 * Progressing condition with reason ProgressDeadlineExceeded fails the rollout; otherwise
 * it waits for every replica to be updated, old replicas to terminate and the updated
 * ones to be available.
 */
export const RolloutPhase = { waiting: 'waiting', done: 'done', failed: 'failed' } as const;
export type RolloutPhase = (typeof RolloutPhase)[keyof typeof RolloutPhase];
export interface RolloutState {
  phase: RolloutPhase;
  message: string;
}

/** The fields read; both a typed client object and a raw watch object fit. */
export interface DeploymentLike {
  metadata?: { name?: string; generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status?: string; reason?: string; message?: string; lastUpdateTime?: string | Date }[];
  };
}

/**
 * `staleDeadlineUpTo` (ms since the epoch): a rollback's wait. A ProgressDeadlineExceeded
 * condition last updated at or before that time is the failed rollout's, which a controller
 * may keep after the old template is applied again (kubectl's rollout status has the same
 * known issue); it is ignored and the replica counts decide.
 */
export function rolloutState(d: DeploymentLike, opts: { staleDeadlineUpTo?: number } = {}): RolloutState {
  const name = d.metadata?.name ?? '';
  const status = d.status ?? {};
  if ((d.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { phase: 'waiting', message: 'waiting for deployment spec update to be observed' };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (
    progressing?.reason === 'ProgressDeadlineExceeded' &&
    !isStale(progressing.lastUpdateTime, opts.staleDeadlineUpTo)
  ) {
    return {
      phase: 'failed',
      message: `deployment "${name}" exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ''}`,
    };
  }
  const want = d.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < want) return { phase: 'waiting', message: `${updated} out of ${want} new replicas have been updated` };
  if (total > updated) return { phase: 'waiting', message: `${total - updated} old replicas are pending termination` };
  if (available < updated)
    return { phase: 'waiting', message: `${available} of ${updated} updated replicas are available` };
  return { phase: 'done', message: `deployment "${name}" successfully rolled out` };
}

function isStale(updated: string | Date | undefined, upTo: number | undefined): boolean {
  if (upTo === undefined || updated === undefined) return false;
  const at = new Date(updated).getTime();
  return !Number.isNaN(at) && at <= upTo;
}
