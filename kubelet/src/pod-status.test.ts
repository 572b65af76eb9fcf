import type { Container } from '@sidecar/core';
import { describe, expect, it } from 'vitest';
import { newRecord, type ContainerRecord } from './container-record.js';
import { podView, stampTransitions, type PodStatusInput } from './pod-status.js';

/**
 * The status rules (docs NATIVE-SIDECARS.md 19–21) on plain records, no Docker. (Rules 22–24,
 * validation, are core's: core/src/pod-validation.test.ts.)
 */
const spec = (name: string, o: Partial<Container> = {}): Container => ({ name, image: 'busybox', ...o });
const AT = '2025-01-01T00:00:00.000Z';

type State = Partial<ContainerRecord>;
const running = (o: State = {}): State => ({
  phase: 'running',
  everRan: true,
  startedAt: AT,
  startupPassed: true,
  postStartDone: true,
  ...o,
});
const exited = (code: number, o: State = {}): State => ({
  phase: 'exited',
  everRan: true,
  exitCode: code,
  finishedAt: AT,
  terminatedReason: code === 0 ? 'Completed' : 'Error',
  succeeded: code === 0,
  ...o,
});

function rec(c: Container, kind: ContainerRecord['kind'], index: number, state: State = {}): ContainerRecord {
  return { ...newRecord(c, kind, index), ...state };
}

function view(o: Partial<PodStatusInput> & Pick<PodStatusInput, 'inits' | 'mains'>) {
  return podView({
    name: 'p',
    release: null,
    restartPolicy: 'Always',
    sandboxReady: true,
    initDone: false,
    outcome: null,
    events: [],
    ...o,
  });
}
const condition = (v: ReturnType<typeof view>, type: string) => v.conditions.find((c) => c.type === type);

describe('podView (rules 19–21)', () => {
  it('rule 19: a sidecar is started when running and its startup passed; ready when readiness passed too', () => {
    const probe = { exec: { command: ['true'] } };
    const s = (state: State) =>
      view({
        inits: [
          rec(spec('s1', { restartPolicy: 'Always', readinessProbe: probe, startupProbe: probe }), 'sidecar', 0, state),
        ],
        mains: [rec(spec('m1'), 'main', 0)],
      }).initContainerStatuses[0];
    expect(s(running({ startupPassed: false }))).toMatchObject({ started: false, ready: false });
    expect(s(running())).toMatchObject({ started: true, ready: false });
    expect(s(running({ readinessPassed: true }))).toMatchObject({ started: true, ready: true });
    expect(s(exited(0, { readinessPassed: false }))).toMatchObject({ started: false, ready: false });
  });

  it('rule 19: a regular init is ready once it exited 0; started while running', () => {
    const i = (state: State) =>
      view({ inits: [rec(spec('i1'), 'init', 0, state)], mains: [rec(spec('m1'), 'main', 0)] })
        .initContainerStatuses[0];
    expect(i(running())).toMatchObject({ started: true, ready: false });
    expect(i(exited(0))).toMatchObject({ started: false, ready: true, state: { terminated: { exitCode: 0 } } });
    expect(i(exited(1))).toMatchObject({ ready: false, state: { terminated: { exitCode: 1, reason: 'Error' } } });
  });

  it('rules 20, 21 (case 21): sidecar started, I2 running → Pending, Initialized False naming I2, mains PodInitializing', () => {
    const v = view({
      inits: [
        rec(spec('s1', { restartPolicy: 'Always' }), 'sidecar', 0, running()),
        rec(spec('i2'), 'init', 1, running()),
      ],
      mains: [rec(spec('m1'), 'main', 0)],
    });
    expect(v.phase).toBe('Pending');
    expect(v.initContainerStatuses.map((s) => [s.name, s.started, s.ready])).toEqual([
      ['s1', true, true],
      ['i2', true, false],
    ]);
    expect(v.containerStatuses[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(condition(v, 'PodReadyToStartContainers')?.status).toBe('True');
    expect(condition(v, 'Initialized')).toEqual({
      type: 'Initialized',
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [i2]',
    });
    expect(v.ready).toBe(false);
  });

  it('rule 20: PodReadyToStartContainers is False until the sandbox exists', () => {
    const v = view({ sandboxReady: false, inits: [], mains: [rec(spec('m1'), 'main', 0)] });
    expect(condition(v, 'PodReadyToStartContainers')?.status).toBe('False');
  });

  it('rule 20: Ready needs every sidecar and main ready (case 6: a not-yet-ready sidecar keeps the pod un-Ready)', () => {
    const probe = { exec: { command: ['true'] } };
    const pod = (sidecarReady: boolean) =>
      view({
        initDone: true,
        inits: [
          rec(
            spec('s1', { restartPolicy: 'Always', readinessProbe: probe }),
            'sidecar',
            0,
            running({ readinessPassed: sidecarReady }),
          ),
        ],
        mains: [rec(spec('m1'), 'main', 0, running())],
      });
    expect(pod(false).ready).toBe(false);
    expect(condition(pod(false), 'ContainersReady')).toMatchObject({
      status: 'False',
      message: 'containers with unready status: [s1]',
    });
    expect(pod(true).ready).toBe(true);
    expect(condition(pod(true), 'Initialized')?.status).toBe('True');
  });

  it('rules 20, 21: once a main has started the pod is Initialized and Running, even while a sidecar restarts', () => {
    const v = view({
      initDone: false, // e.g. after adoption the cursor was not rebuilt past the sidecar
      inits: [
        rec(spec('s1', { restartPolicy: 'Always' }), 'sidecar', 0, {
          ...exited(1),
          backoffUntilMs: 1,
          backoffMessage: 'back-off 10s restarting failed container=s1 pod=p',
        }),
      ],
      mains: [rec(spec('m1'), 'main', 0, running())],
    });
    expect(v.phase).toBe('Running');
    expect(condition(v, 'Initialized')?.status).toBe('True');
    expect(v.initContainerStatuses[0]?.state).toEqual({
      waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=s1 pod=p' },
    });
  });

  it.each([
    ['Never', [0, 0], 'Succeeded'],
    ['Never', [0, 1], 'Failed'],
    ['OnFailure', [0, 1], 'Running'],
    ['Always', [0, 0], 'Running'],
  ] as const)('rule 21 / kubelet getPhase: %s with mains exited %j → %s', (restartPolicy, codes, phase) => {
    const v = view({
      restartPolicy,
      initDone: true,
      inits: [],
      mains: codes.map((code, i) => rec(spec(`m${i + 1}`), 'main', i, exited(code))),
    });
    expect(v.phase).toBe(phase);
  });

  it('rule 11: a terminal outcome is the phase, and Ready is False with reason PodCompleted', () => {
    const v = view({ outcome: 'Succeeded', initDone: true, inits: [], mains: [rec(spec('m1'), 'main', 0, exited(0))] });
    expect(v.phase).toBe('Succeeded');
    expect(condition(v, 'Ready')).toEqual({ type: 'Ready', status: 'False', reason: 'PodCompleted' });
  });
});

describe('stampTransitions (lastTransitionTime)', () => {
  const T1 = '2025-01-01T00:00:01.000Z';
  const T2 = '2025-01-01T00:00:02.000Z';
  it("keeps a condition's time while its status stays, takes now when it changes or first appears", () => {
    const first = stampTransitions(
      [],
      [
        { type: 'PodReadyToStartContainers', status: 'False' },
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady' },
      ],
      T1,
    );
    expect(first.map((c) => c.lastTransitionTime)).toEqual([T1, T1]);
    const second = stampTransitions(
      first,
      [
        { type: 'PodReadyToStartContainers', status: 'True' },
        // Same status, another message: not a transition.
        {
          type: 'Ready',
          status: 'False',
          reason: 'ContainersNotReady',
          message: 'containers with unready status: [m1]',
        },
        { type: 'Initialized', status: 'False' },
      ],
      T2,
    );
    expect(second).toEqual([
      { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: T2 },
      {
        type: 'Ready',
        status: 'False',
        reason: 'ContainersNotReady',
        message: 'containers with unready status: [m1]',
        lastTransitionTime: T1,
      },
      { type: 'Initialized', status: 'False', lastTransitionTime: T2 },
    ]);
  });
});
