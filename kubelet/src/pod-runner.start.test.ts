import { Labels, type ContainerStatus, type PodView } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRunner } from './pod-runner.js';
import {
  TEST_IMAGES,
  between,
  cleanupPods,
  container,
  docker,
  ensureTestImages,
  podLog,
  runFor,
  startedAtNs,
  testPod,
  uniqueName,
} from './test-support.js';

/**
 * NATIVE-SIDECARS.md start, restart and status cases against the real Docker
 * engine. Each case owns a uniquely named pod; cases run concurrently (they
 * mostly wait), and wait on status conditions with bounded deadlines.
 */
const d = docker();
const runners: PodRunner[] = [];
const SCALE = 0.05; // back-off 0.5 s, 1 s, 2 s, ...

function run(pod: ReturnType<typeof testPod>): PodRunner {
  const r = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, backoffScale: SCALE });
  runners.push(r);
  return r;
}
const init = (v: PodView, name: string): ContainerStatus => {
  const s = v.initContainerStatuses.find((c) => c.name === name);
  if (!s) throw new Error(`no init status ${name}`);
  return s;
};
const main = (v: PodView, name: string): ContainerStatus => {
  const s = v.containerStatuses.find((c) => c.name === name);
  if (!s) throw new Error(`no status ${name}`);
  return s;
};
const firstEvent = (v: PodView, container: string, reason: string) => {
  const e = v.events.find((x) => x.container === container && x.reason === reason);
  if (!e) throw new Error(`no ${reason} event for ${container}: ${JSON.stringify(v.events)}`);
  return e;
};
const before = (log: string[], a: string, b: string) => {
  expect(log.indexOf(a), `${a} in ${JSON.stringify(log)}`).toBeGreaterThanOrEqual(0);
  expect(log.indexOf(b), `${b} in ${JSON.stringify(log)}`).toBeGreaterThan(log.indexOf(a));
};
const condition = (v: PodView, type: string) => v.conditions.find((c) => c.type === type);

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.close()));
  await cleanupPods(
    d,
    runners.map((r) => r.name),
  );
});

describe.concurrent('PodRunner start order and restarts', () => {
  it('case 1: inits in order, a sidecar only has to start, mains after; Succeeded', async () => {
    const r = run(
      testPod(uniqueName('c1'), {
        restartPolicy: 'Never',
        initContainers: [
          container('i1', { body: runFor(2) }),
          container('s1', { restartPolicy: 'Always' }),
          container('i2', { body: runFor(2) }),
        ],
        containers: [container('m1', { body: runFor(3) })],
      }),
    );
    await r.start();
    const done = await r.waitFor((v) => v.phase === 'Succeeded' && init(v, 's1').state.terminated !== undefined, {
      timeoutMs: 30_000,
    });
    const log = await podLog(d, r.name);
    for (const [a, b] of [
      ['i1 start', 'i1 exit'],
      ['i1 exit', 's1 start'],
      ['i2 start', 'i2 exit'],
      ['i2 exit', 'm1 start'],
      ['m1 exit', 's1 TERM'], // S1 overlaps I2 and M1
    ] as const)
      before(log, a, b);
    // s1 before i2 by when the engine started them (s1's first line may come after i2's: nothing waits for it).
    expect(await startedAtNs(d, r.name, 's1')).toBeLessThan(await startedAtNs(d, r.name, 'i2'));
    expect(init(done, 's1').restartCount).toBe(0);
    expect(main(done, 'm1').state.terminated?.exitCode).toBe(0);
  });

  it('case 2: a sidecar gets TERM only after the main exited; Succeeded; restartCount 0', async () => {
    const r = run(
      testPod(uniqueName('c2'), {
        restartPolicy: 'Never',
        initContainers: [container('s1', { restartPolicy: 'Always' })],
        containers: [container('m1', { body: runFor(3) })],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => x.phase === 'Succeeded' && init(x, 's1').state.terminated !== undefined, {
      timeoutMs: 30_000,
    });
    before(await podLog(d, r.name), 'm1 exit', 's1 TERM');
    expect(init(v, 's1').restartCount).toBe(0);
    expect(between(firstEvent(v, 'm1', 'Exited').time, firstEvent(v, 's1', 'Killing').time)).toBeGreaterThanOrEqual(0);
  });

  it('case 3: a startup probe gates the next entry', async () => {
    const r = run(
      testPod(uniqueName('c3'), {
        initContainers: [
          container('s1', {
            restartPolicy: 'Always',
            body: `sleep 5; touch /tmp/up; ${'while :; do sleep 1 & wait $!; done'}`,
            startupProbe: { exec: { command: ['test', '-f', '/tmp/up'] }, periodSeconds: 1, failureThreshold: 30 },
          }),
          container('i2', { body: runFor(0) }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => x.phase === 'Running', { timeoutMs: 30_000 });
    const failures = v.events.filter(
      (e) => e.container === 's1' && e.reason === 'Unhealthy' && e.message.startsWith('Startup probe failed'),
    );
    expect(failures.length).toBeGreaterThan(0);
    // Order, not durations: i2 started only after the probe had stopped failing. (Started → Started against the
    // 5 s sleep failed under load: `Started` is recorded when the engine's start call returns, after the sleep began.)
    expect(between(failures.at(-1)!.time, firstEvent(v, 'i2', 'Started').time)).toBeGreaterThanOrEqual(0);
  });

  it('case 4: a postStart hook gates the next entry', async () => {
    const r = run(
      testPod(uniqueName('c4'), {
        initContainers: [
          container('s1', { restartPolicy: 'Always', lifecycle: { postStart: { exec: { command: ['sleep', '3'] } } } }),
          container('i2', { body: runFor(0) }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => x.phase === 'Running', { timeoutMs: 30_000 });
    expect(between(firstEvent(v, 's1', 'Started').time, firstEvent(v, 'i2', 'Started').time)).toBeGreaterThanOrEqual(
      3000,
    );
  });

  it('case 5: a never-ready sidecar does not gate; started, not ready; pod Running, not Ready', async () => {
    const r = run(
      testPod(uniqueName('c5'), {
        initContainers: [
          container('s1', {
            restartPolicy: 'Always',
            readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 },
          }),
          container('i2', { body: runFor(0) }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor(
      (x) => x.phase === 'Running' && x.events.some((e) => e.container === 's1' && e.reason === 'Unhealthy'),
      { timeoutMs: 30_000 },
    );
    expect(init(v, 's1')).toMatchObject({ started: true, ready: false });
    expect(main(v, 'm1')).toMatchObject({ started: true, ready: true });
    expect(v.ready).toBe(false);
    expect(condition(v, 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady' });
  });

  it('case 6: the pod is Ready only once the sidecar passes readiness, though the main was ready before', async () => {
    const r = run(
      testPod(uniqueName('c6'), {
        initContainers: [
          container('s1', {
            restartPolicy: 'Always',
            body: `sleep 6; touch /tmp/ready; ${'while :; do sleep 1 & wait $!; done'}`,
            readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1 },
          }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const mainReady = await r.waitFor((x) => main(x, 'm1').ready, { timeoutMs: 20_000 });
    expect(mainReady.ready).toBe(false);
    const v = await r.waitFor((x) => x.ready, { timeoutMs: 20_000 });
    // Order, not durations: the main was ready first, and the pod's readiness waited for the sidecar's.
    // (Measuring Started → Ready against the sidecar's 6 s sleep failed under load: `Started` is recorded
    // when the engine's start call returns, after the sleep has begun.)
    expect(between(firstEvent(v, 'm1', 'Ready').time, firstEvent(v, 's1', 'Ready').time)).toBeGreaterThanOrEqual(0);
    expect(init(v, 's1').ready).toBe(true);
  });

  it('case 21: snapshot while the sidecar is started and I2 runs', async () => {
    const r = run(
      testPod(uniqueName('c21'), {
        initContainers: [container('s1', { restartPolicy: 'Always' }), container('i2')],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => init(x, 'i2').state.running !== undefined, { timeoutMs: 20_000 });
    expect(init(v, 's1')).toMatchObject({ sidecar: true, started: true, ready: true });
    expect(init(v, 's1').state.running).toBeDefined();
    expect(init(v, 'i2')).toMatchObject({ sidecar: false, started: true, ready: false });
    expect(main(v, 'm1').state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(v.phase).toBe('Pending');
    expect(condition(v, 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [i2]',
    });
    expect(condition(v, 'PodReadyToStartContainers')).toMatchObject({ status: 'True' });
    // Its transition is when the sandbox became ready: after the pod was scheduled, before any container was
    // created (a Created event is recorded just before a start, which waits for the sandbox).
    const sandboxAt = condition(v, 'PodReadyToStartContainers')!.lastTransitionTime!;
    expect(between(firstEvent(v, '', 'Scheduled').time, sandboxAt)).toBeGreaterThanOrEqual(0);
    expect(between(sandboxAt, firstEvent(v, 's1', 'Created').time)).toBeGreaterThanOrEqual(0);
    // A later status keeps it: nothing about the sandbox changed since.
    expect(condition(r.status(), 'PodReadyToStartContainers')!.lastTransitionTime).toBe(sandboxAt);
  });

  it('case 7: a sidecar that exits 0 is restarted each time, under Never too; the main untouched', async () => {
    const r = run(
      testPod(uniqueName('c7'), {
        restartPolicy: 'Never',
        initContainers: [container('s1', { restartPolicy: 'Always', body: runFor(1) })],
        containers: [container('m1', { body: runFor(30) })],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => init(x, 's1').restartCount >= 3, { timeoutMs: 30_000 });
    expect(
      v.events.filter((e) => e.container === 's1' && e.reason === 'Exited').every((e) => e.message.endsWith('code 0')),
    ).toBe(true);
    expect(main(v, 'm1')).toMatchObject({ restartCount: 0 });
    expect(main(v, 'm1').state.running).toBeDefined();
    expect(v.phase).toBe('Running');
  });

  it('case 8: crash-looping sidecar: gaps grow (scaled 0.5 s, 1 s, 2 s) with CrashLoopBackOff between', async () => {
    const r = run(
      testPod(uniqueName('c8'), {
        initContainers: [container('s1', { restartPolicy: 'Always', body: runFor(0, 1) })],
        containers: [container('m1')],
      }),
    );
    await r.start();
    let sawBackOff = false;
    const v = await r.waitFor(
      (x) => {
        if (init(x, 's1').state.waiting?.reason === 'CrashLoopBackOff') sawBackOff = true;
        return init(x, 's1').restartCount >= 4;
      },
      { timeoutMs: 30_000 },
    );
    expect(sawBackOff).toBe(true);
    const exits = v.events.filter((e) => e.container === 's1' && e.reason === 'Exited').map((e) => e.time);
    const starts = v.events.filter((e) => e.container === 's1' && e.reason === 'Started').map((e) => e.time);
    // Gap k = exit k → start k+1: the kubelet restarts the first exit at once, then 10 s, 20 s, 40 s (× 0.05).
    const gaps = [1, 2, 3].map((k) => between(exits[k]!, starts[k + 1]!));
    // Event times are when the runner noticed an exit (a loaded host notices late), so allow 10 %.
    expect(gaps[0]).toBeGreaterThanOrEqual(450);
    expect(gaps[1]).toBeGreaterThanOrEqual(900);
    // Lower bounds only: they already require the doubling; a loaded machine can only add to a gap.
    expect(gaps[2]).toBeGreaterThanOrEqual(1800);
    expect(v.events.some((e) => e.container === 's1' && e.reason === 'BackOff')).toBe(true);
  });

  it('case 9: a sidecar that dies before its startup probe passes: restarted, later entries never start, Pending', async () => {
    const r = run(
      testPod(uniqueName('c9'), {
        restartPolicy: 'Never',
        initContainers: [
          container('s1', {
            restartPolicy: 'Always',
            body: runFor(0, 1),
            startupProbe: { exec: { command: ['test', '-f', '/tmp/up'] }, periodSeconds: 1 },
          }),
          container('i2'),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => init(x, 's1').restartCount >= 3, { timeoutMs: 30_000 });
    expect(init(v, 's1').started).toBe(false);
    expect(init(v, 'i2').state.waiting).toBeDefined();
    expect(main(v, 'm1').state.waiting).toBeDefined();
    expect(v.phase).toBe('Pending');
    expect(v.events.some((e) => e.container === 'i2' || e.container === 'm1')).toBe(false);
  });

  it('case 10: a startup probe that always fails kills and restarts the sidecar; mains never start', async () => {
    const r = run(
      testPod(uniqueName('c10'), {
        initContainers: [
          container('s1', {
            restartPolicy: 'Always',
            startupProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 3 },
          }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => init(x, 's1').restartCount >= 1, { timeoutMs: 30_000 });
    expect(
      v.events.some(
        (e) => e.container === 's1' && e.reason === 'Killing' && e.message.includes('failed startup probe'),
      ),
    ).toBe(true);
    expect(v.events.some((e) => e.container === 'm1')).toBe(false);
    expect(v.phase).toBe('Pending');
  });

  it('rule 2: a failing postStart hook kills the sidecar, which is restarted and never started; mains never start', async () => {
    const r = run(
      testPod(uniqueName('r2'), {
        initContainers: [
          container('s1', { restartPolicy: 'Always', lifecycle: { postStart: { exec: { command: ['false'] } } } }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => init(x, 's1').restartCount >= 1, { timeoutMs: 30_000 });
    const reasons = v.events.filter((e) => e.container === 's1').map((e) => e.reason);
    expect(reasons).toContain('FailedPostStartHook');
    expect(reasons.indexOf('Killing')).toBeGreaterThan(reasons.indexOf('FailedPostStartHook'));
    expect(init(v, 's1').started).toBe(false);
    expect(v.events.some((e) => e.container === 'm1')).toBe(false);
    expect(v.phase).toBe('Pending');
  });

  it('case 11: an init that fails under Never fails the pod; the sidecar after it never starts', async () => {
    const r = run(
      testPod(uniqueName('c11'), {
        restartPolicy: 'Never',
        initContainers: [container('i1', { body: runFor(0, 1) }), container('s1', { restartPolicy: 'Always' })],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => x.phase === 'Failed', { timeoutMs: 20_000 });
    expect(init(v, 'i1').state.terminated?.exitCode).toBe(1);
    expect(init(v, 's1').state.waiting).toBeDefined();
    expect(v.events.some((e) => e.container === 's1' || e.container === 'm1')).toBe(false);
  });

  it('case 12: OnFailure retries a failed init; the running sidecar is left alone; then the main starts', async () => {
    const r = run(
      testPod(uniqueName('c12'), {
        restartPolicy: 'OnFailure',
        volumes: [{ name: 'state', emptyDir: {} }],
        initContainers: [
          container('s1', { restartPolicy: 'Always' }),
          // Fails on its first run, succeeds on the second (a marker survives in the emptyDir).
          container('i1', {
            body: 'if [ -f /state/ran ]; then exit 0; fi; touch /state/ran; exit 1',
            volumeMounts: [{ name: 'state', mountPath: '/state' }],
          }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => main(x, 'm1').state.running !== undefined, { timeoutMs: 20_000 });
    expect(init(v, 'i1').restartCount).toBe(1);
    expect(init(v, 's1').restartCount).toBe(0);
    expect(between(firstEvent(v, 'i1', 'Exited').time, firstEvent(v, 'm1', 'Started').time)).toBeGreaterThan(0);
  });

  it('case 13: a failing liveness probe restarts the sidecar only; the main untouched, phase Running', async () => {
    const r = run(
      testPod(uniqueName('c13'), {
        initContainers: [
          container('s1', {
            restartPolicy: 'Always',
            body: `touch /tmp/alive; (sleep 4; rm /tmp/alive) & ${'while :; do sleep 1 & wait $!; done'}`,
            livenessProbe: { exec: { command: ['test', '-f', '/tmp/alive'] }, periodSeconds: 1, failureThreshold: 2 },
          }),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => init(x, 's1').restartCount >= 1 && init(x, 's1').state.running !== undefined, {
      timeoutMs: 30_000,
    });
    expect(
      v.events.some(
        (e) => e.container === 's1' && e.reason === 'Killing' && e.message.includes('failed liveness probe'),
      ),
    ).toBe(true);
    expect(main(v, 'm1').restartCount).toBe(0);
    expect(v.phase).toBe('Running');
  });

  it('a container that cannot be created fails start(); the sandbox is not used and delete leaves nothing', async () => {
    // No warm holder here: the pod's own sandbox takes hundreds of ms to start, the failed creation a few.
    const r = run(
      testPod(uniqueName('nocreate'), {
        initContainers: [container('s1', { restartPolicy: 'Always' })],
        containers: [{ ...container('m1'), image: 'sidecar-test-no-such-image:never' }],
      }),
    );
    await expect(r.start()).rejects.toThrow(/no such image/i);
    expect(r.status().events.map((e) => e.reason)).not.toContain('Started');
    await r.delete({ gracePeriodSeconds: 2 });
    expect(await d.listContainers({ all: true, filters: { label: [`${Labels.pod}=${r.name}`] } })).toEqual([]);
  });
});
