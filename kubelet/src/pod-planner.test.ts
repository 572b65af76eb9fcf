import type { PodRestartPolicy } from '@sidecar/core';
import { describe, expect, it } from 'vitest';
import { backoffLimits, type BackoffEntry } from './backoff.js';
import { isStarted, newRecord } from './container-record.js';
import {
  KILL_WAIT_MS,
  MIN_GRACE_MS,
  mainRestarts,
  planPod,
  planTermination,
  terminationMembers,
  type ObservedContainer,
  type PodAction,
  type PodSnapshot,
  type TerminatingContainer,
  type TerminationSnapshot,
} from './pod-planner.js';

/**
 * The pod's rules on plain data, no Docker: each row is a snapshot of what the runner observed and
 * the actions the planner must return. Rule numbers are those of docs NATIVE-SIDECARS.md; the Docker
 * tests (pod-runner.*.test.ts) run the same cases against the engine.
 */

const NOW = 1_000_000;
const LIMITS = backoffLimits(1); // the kubelet's: 10 s doubling to 300 s

// ---- observed containers ---------------------------------------------------------------------------

type Kind = ObservedContainer['kind'];
function observed(name: string, kind: Kind, index: number, over: Partial<ObservedContainer>): ObservedContainer {
  return {
    name,
    kind,
    index,
    phase: 'waiting',
    starting: false,
    startInFlight: false,
    everRan: false,
    started: false,
    succeeded: false,
    exitCode: null,
    exitedAtMs: null,
    backoffUntilMs: null,
    backoff: undefined,
    ...over,
  };
}
const waiting = {} as const;
/** Running; `started` per rule 2. */
const running = (started = true) => ({ phase: 'running', everRan: true, started }) as const;
/** Exited with `code` a second ago. */
const exited = (code: number, over: Partial<ObservedContainer> = {}) =>
  ({ phase: 'exited', everRan: true, exitCode: code, exitedAtMs: NOW - 1000, ...over }) as const;
/** Init that exited 0: done for good. */
const done = { ...exited(0), succeeded: true } as const;
const starting = { starting: true, startInFlight: true } as const;

const init = (name: string, index: number, state: Partial<ObservedContainer> = waiting) =>
  observed(name, 'init', index, state);
const sidecar = (name: string, index: number, state: Partial<ObservedContainer> = waiting) =>
  observed(name, 'sidecar', index, state);
const main = (name: string, index: number, state: Partial<ObservedContainer> = waiting) =>
  observed(name, 'main', index, state);

function snapshot(o: {
  policy?: PodRestartPolicy;
  inits?: ObservedContainer[];
  mains: ObservedContainer[];
  cursor?: number;
  terminating?: boolean;
  sandboxReady?: boolean;
  sandboxRecreated?: boolean;
}): PodSnapshot {
  return {
    restartPolicy: o.policy ?? 'Always',
    inits: o.inits ?? [],
    mains: o.mains,
    initCursor: o.cursor ?? 0,
    sandboxReady: o.sandboxReady ?? true,
    ...(o.sandboxRecreated !== undefined ? { sandboxRecreated: o.sandboxRecreated } : {}),
    terminating: o.terminating ?? false,
    backoffLimits: LIMITS,
    nowMs: NOW,
  };
}

/** A restart now that arms the first back-off delay (rule 7: the first restart is immediate). */
const firstRestart = (container: string): PodAction => ({
  type: 'restart',
  container,
  backoff: { delayMs: LIMITS.initialMs, lastUpdate: NOW - 1000 },
});
const start = (container: string): PodAction => ({ type: 'start', container });

interface Row {
  rule: string;
  given: PodSnapshot;
  actions: PodAction[];
  cursor?: number;
}

// ---- planPod: start and restart ---------------------------------------------------------------------

const rows: Row[] = [
  // Rule 1: init entries strictly in spec order; an init must exit 0 before the next entry starts.
  {
    rule: 'rule 1: only the first init entry starts',
    given: snapshot({ inits: [init('i1', 0), sidecar('s1', 1)], mains: [main('m1', 0)] }),
    actions: [start('i1')],
    cursor: 0,
  },
  {
    rule: 'rule 1: a running init holds every later entry',
    given: snapshot({ inits: [init('i1', 0, running()), sidecar('s1', 1)], mains: [main('m1', 0)] }),
    actions: [],
    cursor: 0,
  },
  {
    rule: 'rule 1: an init that exited 0 is done; the next entry starts',
    given: snapshot({ inits: [init('i1', 0, done), sidecar('s1', 1)], mains: [main('m1', 0)] }),
    actions: [start('s1')],
    cursor: 1,
  },
  {
    rule: 'rule 1: an init being started holds the sequence',
    given: snapshot({ inits: [init('i1', 0, starting), init('i2', 1)], mains: [main('m1', 0)] }),
    actions: [],
    cursor: 0,
  },
  {
    rule: 'rules 1, 2: a sidecar only has to be started before the next entry starts',
    given: snapshot({ inits: [sidecar('s1', 0, running(true)), init('i2', 1)], mains: [main('m1', 0)] }),
    actions: [start('i2')],
    cursor: 1,
  },
  {
    rule: 'rule 2: a running sidecar that has not started (startup probe or postStart pending) holds the next entry',
    given: snapshot({ inits: [sidecar('s1', 0, running(false)), init('i2', 1)], mains: [main('m1', 0)] }),
    actions: [],
    cursor: 0,
  },
  {
    rule: 'rule 2: a sidecar whose postStart is still running is busy starting: nothing else starts',
    given: snapshot({
      inits: [sidecar('s1', 0, { ...running(false), starting: true }), init('i2', 1)],
      mains: [main('m1', 0)],
    }),
    actions: [],
    cursor: 0,
  },
  {
    // Readiness is not even an input of the planner: a started sidecar that is not ready does not gate.
    rule: 'rules 3, 5: a started sidecar (ready or not) lets later entries start and keeps running beside them',
    given: snapshot({
      inits: [sidecar('s1', 0, running(true)), init('i2', 1, done), sidecar('s3', 2, running(true))],
      mains: [main('m1', 0)],
    }),
    actions: [start('m1')],
    cursor: 3,
  },
  {
    rule: 'rule 4: mains wait while an init entry is not done',
    given: snapshot({ inits: [sidecar('s1', 0, running(true)), init('i2', 1, running())], mains: [main('m1', 0)] }),
    actions: [],
    cursor: 1,
  },
  {
    rule: 'rule 4: mains start (one after another, in spec order) once the last init entry is done',
    given: snapshot({ inits: [init('i1', 0, done)], mains: [main('m1', 0), main('m2', 1)] }),
    actions: [start('m1')],
    cursor: 1,
  },
  {
    rule: 'rule 4: the next main starts only after the previous one has started (its postStart returned)',
    given: snapshot({ mains: [main('m1', 0, { ...running(false), starting: true }), main('m2', 1)] }),
    actions: [],
  },
  {
    rule: 'rule 4: after adoption, mains that ran before are supervised although the cursor was not rebuilt past an entry',
    given: snapshot({
      inits: [sidecar('s1', 0, running(false))],
      mains: [main('m1', 0, exited(1)), main('m2', 1, running())],
    }),
    actions: [firstRestart('m1')],
    cursor: 0,
  },
  {
    // Everything died with the old sandbox (an engine restart); the inits were purged (cursor back to 0).
    rule: 'rules 1, 4: in a re-created sandbox the first init entry restarts alone; the mains that ran wait for every entry',
    given: snapshot({
      sandboxRecreated: true,
      inits: [sidecar('s1', 0, exited(0)), init('i2', 1, exited(0)), sidecar('s3', 2, exited(137))],
      mains: [main('m1', 0, exited(137))],
    }),
    actions: [firstRestart('s1')],
    cursor: 0,
  },
  {
    rule: 'rules 1, 4: in a re-created sandbox an init that succeeded before runs again once the sidecar before it started',
    given: snapshot({
      sandboxRecreated: true,
      inits: [sidecar('s1', 0, running(true)), init('i2', 1, exited(0)), sidecar('s3', 2, exited(137))],
      mains: [main('m1', 0, exited(137))],
    }),
    actions: [firstRestart('i2')],
    cursor: 1,
  },
  {
    rule: 'rule 4: in a re-created sandbox the mains restart once every init entry is done again',
    given: snapshot({
      sandboxRecreated: true,
      inits: [sidecar('s1', 0, running(true)), init('i2', 1, done), sidecar('s3', 2, running(true))],
      mains: [main('m1', 0, exited(137))],
    }),
    actions: [firstRestart('m1')],
    cursor: 3,
  },
  {
    rule: 'rule 6: an exited sidecar (exit 0) is restarted under restartPolicy Never',
    given: snapshot({
      policy: 'Never',
      inits: [sidecar('s1', 0, exited(0))],
      mains: [main('m1', 0, running())],
      cursor: 1,
    }),
    actions: [firstRestart('s1')],
    cursor: 1,
  },
  {
    rule: 'rule 6: an exited sidecar (exit 1) is restarted under OnFailure, beside the running mains',
    given: snapshot({
      policy: 'OnFailure',
      inits: [sidecar('s1', 0, exited(1)), sidecar('s2', 1, running())],
      mains: [main('m1', 0, running())],
      cursor: 2,
    }),
    actions: [firstRestart('s1')],
    cursor: 2,
  },
  {
    rule: 'rule 7: a second exit within the armed delay waits in CrashLoopBackOff until exit + delay',
    given: snapshot({
      inits: [sidecar('s1', 0, exited(1, { backoff: { delayMs: 10_000, lastUpdate: NOW - 5000 } }))],
      mains: [main('m1', 0, running())],
      cursor: 1,
    }),
    actions: [{ type: 'backoff', container: 's1', untilMs: NOW - 1000 + 10_000, delayMs: 10_000 }],
  },
  {
    rule: 'rule 7: once the delay has passed the container restarts and the next delay doubles',
    given: snapshot({
      inits: [
        sidecar(
          's1',
          0,
          exited(1, { exitedAtMs: NOW - 10_000, backoff: { delayMs: 10_000, lastUpdate: NOW - 12_000 } }),
        ),
      ],
      mains: [main('m1', 0, running())],
      cursor: 1,
    }),
    actions: [{ type: 'restart', container: 's1', backoff: { delayMs: 20_000, lastUpdate: NOW - 10_000 } }],
  },
  {
    rule: 'rule 7: the delay is capped at 300 s',
    given: snapshot({
      mains: [
        main(
          'm1',
          0,
          exited(1, { exitedAtMs: NOW - 300_000, backoff: { delayMs: 300_000, lastUpdate: NOW - 301_000 } }),
        ),
      ],
    }),
    actions: [{ type: 'restart', container: 'm1', backoff: { delayMs: 300_000, lastUpdate: NOW - 300_000 } }],
  },
  {
    rule: 'rule 7: a container that ran over 10 min since its last exit restarts at once with the initial delay',
    given: snapshot({
      mains: [main('m1', 0, exited(1, { backoff: { delayMs: 160_000, lastUpdate: NOW - 1000 - 601_000 } }))],
    }),
    actions: [firstRestart('m1')],
  },
  {
    rule: 'rule 7: while it waits in CrashLoopBackOff the planner leaves it alone',
    given: snapshot({
      inits: [sidecar('s1', 0, exited(1, { backoffUntilMs: NOW + 5000 }))],
      mains: [main('m1', 0, running())],
      cursor: 1,
    }),
    actions: [],
  },
  {
    rule: 'rule 8: a sidecar that exits before it started is restarted; later entries and mains wait; no phase change',
    given: snapshot({
      policy: 'Never',
      inits: [sidecar('s1', 0, exited(1)), init('i2', 1)],
      mains: [main('m1', 0)],
    }),
    actions: [firstRestart('s1')],
    cursor: 0,
  },
  {
    rule: 'rule 8: the same after its startup or liveness probe failed (the runner killed it: exit 137)',
    given: snapshot({ inits: [sidecar('s1', 0, exited(137)), init('i2', 1)], mains: [main('m1', 0)] }),
    actions: [firstRestart('s1')],
    cursor: 0,
  },
  {
    rule: 'rule 9: a failing init under Never fails the pod (the runner then stops the running sidecars)',
    given: snapshot({
      policy: 'Never',
      inits: [sidecar('s1', 0, running(true)), init('i1', 1, exited(1))],
      mains: [main('m1', 0)],
    }),
    actions: [{ type: 'finish', phase: 'Failed' }],
    cursor: 1,
  },
  {
    rule: 'rule 9: a failing init under OnFailure is retried; the running sidecar is left alone',
    given: snapshot({
      policy: 'OnFailure',
      inits: [sidecar('s1', 0, running(true)), init('i1', 1, exited(1))],
      mains: [main('m1', 0)],
    }),
    actions: [firstRestart('i1')],
    cursor: 1,
  },
  {
    rule: 'rule 9: a failing init under Always is retried too',
    given: snapshot({ policy: 'Always', inits: [init('i1', 0, exited(2))], mains: [main('m1', 0)] }),
    actions: [firstRestart('i1')],
    cursor: 0,
  },
  {
    rule: 'rule 11: every main exited 0 and none restarts → Succeeded; sidecar exit codes are ignored',
    given: snapshot({
      policy: 'Never',
      inits: [sidecar('s1', 0, exited(1))],
      mains: [main('m1', 0, exited(0)), main('m2', 1, exited(0))],
      cursor: 1,
    }),
    actions: [{ type: 'finish', phase: 'Succeeded' }],
    cursor: 1,
  },
  {
    rule: 'rule 11: a main exited non-zero and none restarts → Failed',
    given: snapshot({
      policy: 'Never',
      inits: [sidecar('s1', 0, running())],
      mains: [main('m1', 0, exited(0)), main('m2', 1, exited(2))],
      cursor: 1,
    }),
    actions: [{ type: 'finish', phase: 'Failed' }],
    cursor: 1,
  },
  {
    rule: 'rule 11: OnFailure, every main exited 0 → Succeeded',
    given: snapshot({ policy: 'OnFailure', mains: [main('m1', 0, exited(0))] }),
    actions: [{ type: 'finish', phase: 'Succeeded' }],
  },
  {
    rule: 'rule 11: not finished while a main is being restarted (in back-off)',
    given: snapshot({ policy: 'OnFailure', mains: [main('m1', 0, exited(1, { backoffUntilMs: NOW + 1 }))] }),
    actions: [],
  },
  {
    rule: 'rule 12: during termination nothing starts or restarts',
    given: snapshot({
      terminating: true,
      inits: [sidecar('s1', 0, exited(1)), init('i2', 1)],
      mains: [main('m1', 0, exited(1))],
    }),
    actions: [],
    cursor: 0,
  },
  {
    rule: 'nothing starts before the sandbox and every container exist',
    given: snapshot({ sandboxReady: false, inits: [init('i1', 0)], mains: [main('m1', 0)] }),
    actions: [],
    cursor: 0,
  },
];

describe('planPod: start and restart (rules 1–12)', () => {
  it.each(rows)('$rule', ({ given, actions, cursor }) => {
    const plan = planPod(given);
    expect(plan.actions).toEqual(actions);
    if (cursor !== undefined) expect(plan.initCursor).toBe(cursor);
  });

  // Rule 10: mains restart per the pod's restartPolicy (m2 keeps running, so the pod is not finished).
  it.each([
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 1, true],
    ['Never', 0, false],
    ['Never', 1, false],
  ] as const)('rule 10: restartPolicy %s, main exit %i → restarted: %s', (policy, code, restarted) => {
    expect(mainRestarts(policy, code)).toBe(restarted);
    const plan = planPod(snapshot({ policy, mains: [main('m1', 0, exited(code)), main('m2', 1, running())] }));
    expect(plan.actions).toEqual(restarted ? [firstRestart('m1')] : []);
  });

  it('rule 7: a container crash-looping every second waits 10 s, 20 s, 40 s ... capped at 300 s (planner and runner in a loop)', () => {
    let backoff: BackoffEntry | undefined;
    let now = NOW;
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      const exitedAtMs = now; // it ran, then exited now
      for (;;) {
        const [action] = planPod({
          ...snapshot({ mains: [main('m1', 0, exited(1, { exitedAtMs, backoff }))] }),
          nowMs: now,
        }).actions;
        if (action?.type === 'restart') {
          backoff = action.backoff;
          break;
        }
        if (action?.type !== 'backoff') throw new Error(`unexpected ${JSON.stringify(action)}`);
        waits.push(action.untilMs - now);
        now = action.untilMs; // the runner's timer fires; it asks again
      }
      now += 1000;
    }
    expect(waits).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  });

  it('rule 7: the documented scale shrinks every delay (0.05: 0.5 s, 1 s, 2 s, ...)', () => {
    const scaled = backoffLimits(0.05);
    const plan = planPod({
      ...snapshot({
        mains: [main('m1', 0, exited(1, { backoff: { delayMs: scaled.initialMs, lastUpdate: NOW - 2000 } }))],
      }),
      backoffLimits: scaled,
    });
    expect(plan.actions).toEqual([
      { type: 'restart', container: 'm1', backoff: { delayMs: 1000, lastUpdate: NOW - 1000 } },
    ]);
  });

  it('rule 2: started = running, startup probe passed (or none) and postStart returned (or none)', () => {
    const c = newRecord({ name: 's1', image: 'x', restartPolicy: 'Always' }, 'sidecar', 0);
    const started = (o: Partial<typeof c>) => isStarted({ ...c, ...o });
    expect(started({ phase: 'running', startupPassed: true, postStartDone: true })).toBe(true);
    expect(started({ phase: 'running', startupPassed: false, postStartDone: true })).toBe(false);
    expect(started({ phase: 'running', startupPassed: true, postStartDone: false })).toBe(false);
    expect(started({ phase: 'exited', startupPassed: true, postStartDone: true })).toBe(false);
  });
});

// ---- planTermination: rules 12–18 ---------------------------------------------------------------------

const T0 = NOW;
function member(
  name: string,
  kind: Kind,
  index: number,
  over: Partial<TerminatingContainer> = {},
): TerminatingContainer {
  return {
    name,
    kind,
    index,
    phase: 'running',
    startInFlight: false,
    hasPreStop: false,
    preStop: 'notBegun',
    signalling: false,
    stopSentAtMs: null,
    killSentAtMs: null,
    ...over,
  };
}
const term = (members: TerminatingContainer[], o: { now?: number; graceMs?: number } = {}): TerminationSnapshot => ({
  members,
  deadlineMs: T0 + (o.graceMs ?? 30_000),
  nowMs: o.now ?? T0,
});
const stop = (container: string) => ({ type: 'kill', container, signal: 'stop' }) as const;
const kill = (container: string) => ({ type: 'kill', container, signal: 'SIGKILL' }) as const;

/**
 * Runs a termination to its end on a simulated clock: Docker takes each signal at once, a container
 * exits `exitAfterMs` after its stop signal (never, if absent) and at once on SIGKILL, preStop hooks
 * take `preStopMs`. Returns what happened, in order.
 */
function simulate(
  members: TerminatingContainer[],
  o: { graceMs: number; exitAfterMs: Record<string, number | undefined>; preStopMs?: number },
): string[] {
  const log: string[] = [];
  let state = members;
  let now = T0;
  const pending: { at: number; apply: () => void }[] = [];
  const update = (name: string, over: Partial<TerminatingContainer>) =>
    (state = state.map((m) => (m.name === name ? { ...m, ...over } : m)));
  for (let step = 0; step < 100; step++) {
    const plan = planTermination(term(state, { now, graceMs: o.graceMs }));
    for (const a of plan.actions) {
      const at = now - T0;
      if (a.type === 'preStop') {
        log.push(`${at} ${a.container} preStop`);
        update(a.container, { preStop: 'running' });
        pending.push({
          at: now + Math.min(o.preStopMs ?? 0, a.timeoutMs),
          apply: () => update(a.container, { preStop: 'done' }),
        });
      } else if (a.signal === 'stop') {
        log.push(`${at} ${a.container} TERM`);
        update(a.container, { stopSentAtMs: now });
        const after = o.exitAfterMs[a.container];
        if (after !== undefined)
          pending.push({ at: now + after, apply: () => update(a.container, { phase: 'exited' }) });
      } else {
        log.push(`${at} ${a.container} KILL`);
        update(a.container, { killSentAtMs: now, phase: 'exited' });
      }
    }
    if (plan.done) return [...log, `${now - T0} done`];
    if (plan.actions.length > 0) continue;
    pending.sort((a, b) => a.at - b.at);
    const next = pending[0]?.at ?? plan.wakeAtMs;
    if (next === null || next === undefined) throw new Error(`stuck: ${JSON.stringify(state)}`);
    now = Math.min(next, plan.wakeAtMs ?? next);
    for (const p of pending.filter((x) => x.at <= now)) p.apply();
    pending.splice(0, pending.length, ...pending.filter((x) => x.at > now));
  }
  throw new Error('termination did not end');
}

describe('planTermination (rules 12–18)', () => {
  const four = () => [
    member('s1', 'sidecar', 0),
    member('s2', 'sidecar', 1),
    member('s3', 'sidecar', 2),
    member('m1', 'main', 0),
  ];

  it('rules 15, 16 (case 14): the main first, then the sidecars one at a time in reverse spec order', () => {
    expect(simulate(four(), { graceMs: 30_000, exitAfterMs: { s1: 1000, s2: 1000, s3: 1000, m1: 1000 } })).toEqual([
      '0 m1 TERM',
      '1000 s3 TERM',
      '2000 s2 TERM',
      '3000 s1 TERM',
      '4000 done',
    ]);
  });

  it('rules 16, 17: a main that ignores its TERM holds every sidecar until the budget runs out; then they all get TERM together', () => {
    // What a Docker run logs when the main's TERM came before its shell installed a handler (PID 1 ignores
    // it): `s1 TERM, s2 TERM, s3 TERM, ...exit` and nothing of m1, which is SIGKILLed.
    expect(simulate(four(), { graceMs: 30_000, exitAfterMs: { s1: 1000, s2: 1000, s3: 1000 } })).toEqual([
      '0 m1 TERM',
      '30000 s1 TERM',
      '30000 s2 TERM',
      '30000 s3 TERM',
      '30000 m1 KILL',
      '31000 done',
    ]);
  });

  it('rules 13, 14 (case 15): every preStop starts at t0 bounded by the budget; TERM order unchanged', () => {
    const members = four().map((m) => ({ ...m, hasPreStop: true }));
    const first = planTermination(term(members, { graceMs: 30_000 }));
    expect(first.actions).toEqual(members.map((m) => ({ type: 'preStop', container: m.name, timeoutMs: 30_000 })));
    const log = simulate(members, {
      graceMs: 30_000,
      preStopMs: 1000,
      exitAfterMs: { s1: 1000, s2: 1000, s3: 1000, m1: 1000 },
    });
    expect(log.filter((l) => l.endsWith('preStop'))).toEqual([
      '0 s1 preStop',
      '0 s2 preStop',
      '0 s3 preStop',
      '0 m1 preStop',
    ]);
    expect(log.filter((l) => l.endsWith('TERM'))).toEqual([
      '1000 m1 TERM',
      '2000 s3 TERM',
      '3000 s2 TERM',
      '4000 s1 TERM',
    ]);
  });

  it('rule 14: a preStop is not begun once the budget is spent; the stop signal follows at once', () => {
    const plan = planTermination(term([member('m1', 'main', 0, { hasPreStop: true })], { graceMs: 0 }));
    expect(plan.actions).toEqual([stop('m1')]);
  });

  it('rule 15: a main is not signalled while its preStop runs', () => {
    const plan = planTermination(term([member('m1', 'main', 0, { hasPreStop: true, preStop: 'running' })]));
    expect(plan).toEqual({ actions: [], wakeAtMs: null, done: false });
  });

  it('rules 16, 17 (case 16): a sidecar waits for a main ignoring TERM until the budget runs out; both are then ended', () => {
    expect(
      simulate([member('s1', 'sidecar', 0), member('m1', 'main', 0)], { graceMs: 10_000, exitAfterMs: { s1: 0 } }),
    ).toEqual(['0 m1 TERM', '10000 s1 TERM', '10000 m1 KILL', '10000 done']);
    expect(
      simulate([member('s1', 'sidecar', 0), member('m1', 'main', 0)], { graceMs: 10_000, exitAfterMs: { m1: 500 } }),
    ).toEqual(['0 m1 TERM', '500 s1 TERM', '10000 s1 KILL', '10000 done']);
  });

  it('rule 16: a sidecar waits for later sidecars and mains only, never for earlier ones', () => {
    const plan = planTermination(term([member('s1', 'sidecar', 0), member('s2', 'sidecar', 1, { phase: 'exited' })]));
    expect(plan.actions).toEqual([stop('s1')]);
    const s2 = planTermination(term([member('s1', 'sidecar', 0), member('s2', 'sidecar', 1)]));
    expect(s2.actions).toEqual([stop('s2')]);
    expect(s2.wakeAtMs).toBe(T0 + 30_000); // s1 waits, at most until the budget runs out
  });

  it('rule 17: SIGKILL at the end of the budget, never sooner than 2 s after the stop signal', () => {
    const late = member('m1', 'main', 0, { stopSentAtMs: T0 + 29_500 });
    expect(planTermination(term([late], { now: T0 + 30_000 })).actions).toEqual([]);
    expect(planTermination(term([late], { now: T0 + 30_000 })).wakeAtMs).toBe(T0 + 29_500 + MIN_GRACE_MS);
    expect(planTermination(term([late], { now: T0 + 31_500 })).actions).toEqual([kill('m1')]);
    const early = member('m1', 'main', 0, { stopSentAtMs: T0 });
    expect(planTermination(term([early], { now: T0 + 29_999 })).actions).toEqual([]);
    expect(planTermination(term([early], { now: T0 + 30_000 })).actions).toEqual([kill('m1')]);
  });

  it('rule 17: a container still running after its SIGKILL is given up on after a while; termination ends', () => {
    const killed = member('m1', 'main', 0, { stopSentAtMs: T0, killSentAtMs: T0 + 30_000 });
    expect(planTermination(term([killed], { now: T0 + 30_000 }))).toMatchObject({
      done: false,
      wakeAtMs: T0 + 30_000 + KILL_WAIT_MS,
    });
    expect(planTermination(term([killed], { now: T0 + 30_000 + KILL_WAIT_MS })).done).toBe(true);
  });

  it('rules 17, 12: no signal is sent twice while Docker is taking one, and nothing is ever started', () => {
    const plan = planTermination(term([member('m1', 'main', 0, { signalling: true })], { now: T0 + 40_000 }));
    expect(plan).toEqual({ actions: [], wakeAtMs: null, done: false });
  });

  it('rule 18 (case 18): containers that are not running take no part and block no one', () => {
    const observedNow = [
      sidecar('s1', 0, running(false)),
      init('i2', 1),
      sidecar('s3', 2, exited(1, { backoffUntilMs: NOW + 5000 })),
      main('m1', 0),
    ];
    expect(terminationMembers(observedNow)).toEqual(['s1']);
    expect(simulate([member('s1', 'sidecar', 0)], { graceMs: 30_000, exitAfterMs: { s1: 0 } })).toEqual([
      '0 s1 TERM',
      '0 done',
    ]);
  });

  it('rule 18: a main whose docker start is in flight at t0 takes part as running: sidecars wait for it, it is stopped once it runs', () => {
    const members = terminationMembers([sidecar('s1', 0, running(true)), main('m1', 0, { ...starting })]);
    expect(members).toEqual(['s1', 'm1']);
    const inFlight = [member('s1', 'sidecar', 0), member('m1', 'main', 0, { phase: 'waiting', startInFlight: true })];
    expect(planTermination(term(inFlight))).toEqual({ actions: [], wakeAtMs: T0 + 30_000, done: false });
    const nowRunning = inFlight.map((m) =>
      m.name === 'm1' ? { ...m, phase: 'running' as const, startInFlight: false } : m,
    );
    expect(planTermination(term(nowRunning, { now: T0 + 300 })).actions).toEqual([stop('m1')]);
    // Docker refused the start (StartError): it never ran, so it blocks no one.
    const refused = inFlight.map((m) =>
      m.name === 'm1' ? { ...m, phase: 'exited' as const, startInFlight: false } : m,
    );
    expect(planTermination(term(refused, { now: T0 + 300 })).actions).toEqual([stop('s1')]);
  });

  it('termination is over once no member runs', () => {
    expect(
      planTermination(
        term([member('s1', 'sidecar', 0, { phase: 'exited' }), member('m1', 'main', 0, { phase: 'exited' })]),
      ),
    ).toEqual({ actions: [], wakeAtMs: null, done: true });
  });
});
