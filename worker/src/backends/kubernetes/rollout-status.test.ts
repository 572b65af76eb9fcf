import { describe, expect, it } from 'vitest';
import { rolloutState } from './rollout-status.js';

describe("rolloutState: kubectl rollout status's decision", () => {
  const d = (generation: number, status: Record<string, unknown>, replicas = 2) => ({
    metadata: { name: 'web', generation },
    spec: { replicas },
    status,
  });

  it.each([
    [
      'a spec change not yet observed',
      d(2, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      'waiting',
      'waiting for deployment spec update to be observed',
    ],
    [
      'replicas not yet updated',
      d(1, { observedGeneration: 1, replicas: 3, updatedReplicas: 1 }),
      'waiting',
      '1 out of 2 new replicas have been updated',
    ],
    [
      'old replicas terminating',
      d(1, { observedGeneration: 1, replicas: 3, updatedReplicas: 2 }),
      'waiting',
      '1 old replicas are pending termination',
    ],
    [
      'updated replicas not available',
      d(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }),
      'waiting',
      '1 of 2 updated replicas are available',
    ],
    [
      'done',
      d(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      'done',
      'deployment "web" successfully rolled out',
    ],
    ['scaled to zero', d(1, { observedGeneration: 1 }, 0), 'done', 'deployment "web" successfully rolled out'],
  ])('%s', (_name, deployment, phase, message) => {
    expect(rolloutState(deployment)).toEqual({ phase, message });
  });

  it('fails on ProgressDeadlineExceeded once the generation is observed', () => {
    const conditions = [
      {
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: 'ReplicaSet "web-1" has timed out progressing.',
      },
    ];
    expect(rolloutState(d(1, { observedGeneration: 1, replicas: 2, updatedReplicas: 1, conditions }))).toEqual({
      phase: 'failed',
      message: 'deployment "web" exceeded its progress deadline: ReplicaSet "web-1" has timed out progressing.',
    });
    // A condition from before the latest spec change says nothing yet.
    expect(rolloutState(d(2, { observedGeneration: 1, conditions })).phase).toBe('waiting');
  });

  it("a rollback's wait ignores a ProgressDeadlineExceeded last updated before the rollback was applied; the counts decide", () => {
    const at = (t: string) => [
      { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', lastUpdateTime: t },
    ];
    const upTo = Date.parse('2026-01-01T00:00:10Z');
    expect(
      rolloutState(
        d(3, {
          observedGeneration: 3,
          replicas: 2,
          updatedReplicas: 2,
          availableReplicas: 2,
          conditions: at('2026-01-01T00:00:05Z'),
        }),
        { staleDeadlineUpTo: upTo },
      ).phase,
    ).toBe('done');
    expect(
      rolloutState(
        d(3, { observedGeneration: 3, replicas: 3, updatedReplicas: 1, conditions: at('2026-01-01T00:00:10Z') }),
        { staleDeadlineUpTo: upTo },
      ).phase,
    ).toBe('waiting');
    expect(
      rolloutState(
        d(3, { observedGeneration: 3, replicas: 3, updatedReplicas: 1, conditions: at('2026-01-01T00:00:11Z') }),
        { staleDeadlineUpTo: upTo },
      ).phase,
    ).toBe('failed');
  });
});
