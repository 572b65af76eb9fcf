import type { ContainerStatus, PodView } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PodRunner } from './pod-runner.js';
import {
  TEST_IMAGES,
  cleanupPods,
  container,
  docker,
  ensureTestImages,
  podLog,
  runFor,
  testPod,
  uniqueName,
  waitForLog,
} from './test-support.js';

/** NATIVE-SIDECARS.md termination, Job and main-restart cases (13–20) against the real Docker engine. */
const d = docker();
const runners: PodRunner[] = [];

function run(pod: ReturnType<typeof testPod>): PodRunner {
  const r = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, backoffScale: 0.05 });
  runners.push(r);
  return r;
}
const status = (v: PodView, name: string): ContainerStatus => {
  const s = [...v.initContainerStatuses, ...v.containerStatuses].find((c) => c.name === name);
  if (!s) throw new Error(`no status ${name}`);
  return s;
};
const allRunning = (v: PodView) =>
  [...v.initContainerStatuses, ...v.containerStatuses].every((s) => s.state.running !== undefined);
const only = (log: string[], words: RegExp) => log.filter((l) => words.test(l));
/**
 * Every container runs and has installed its TERM handler (it logged `start`): Docker reports a
 * container running before its shell has read the script, and a shell at PID 1 ignores an early TERM.
 */
async function allListening(r: PodRunner): Promise<void> {
  const v = await r.waitFor(allRunning, { timeoutMs: 20_000 });
  await waitForLog(
    d,
    r.name,
    [...v.initContainerStatuses, ...v.containerStatuses].map((s) => `${s.name} start`),
  );
}

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

/**
 * Case 14's pod: three sidecars and a main, all exiting 1 s after TERM. With `preStop`, each has a
 * preStop hook that marks itself begun on a shared volume and returns only once all four have begun:
 * all four can finish only if they run together (rule 14); one after another, the first would wait
 * out the whole budget and fail.
 */
function fourContainers(name: string, preStop: boolean) {
  const barrier = `until [ "$(ls /barrier | wc -l)" -ge 4 ]; do sleep 0.1; done`;
  // The hook writes to the container's own stdout (PID 1's), so the line is in the pod's log.
  const hook = (n: string) =>
    preStop
      ? {
          volumeMounts: [{ name: 'barrier', mountPath: '/barrier' }],
          lifecycle: {
            preStop: {
              exec: { command: ['sh', '-c', `touch /barrier/${n}; ${barrier}; echo "${n} preStop" > /proc/1/fd/1`] },
            },
          },
        }
      : {};
  return testPod(name, {
    terminationGracePeriodSeconds: 30,
    ...(preStop ? { volumes: [{ name: 'barrier', emptyDir: {} }] } : {}),
    initContainers: ['s1', 's2', 's3'].map((n) => container(n, { restartPolicy: 'Always', termDelay: 1, ...hook(n) })),
    containers: [container('m1', { termDelay: 1, ...hook('m1') })],
  });
}

describe.concurrent('PodRunner termination', () => {
  it('a pod deleted while its containers are being created starts none of them (rule 12)', async () => {
    const r = run(
      testPod(uniqueName('cdel'), {
        initContainers: [container('s1', { restartPolicy: 'Always' })],
        containers: [container('m1')],
      }),
    );
    const starting = r.start();
    await r.delete({ gracePeriodSeconds: 5 });
    await starting;
    expect(r.status().events.filter((e) => e.reason === 'Started')).toEqual([]);
    expect(await d.listContainers({ all: true, filters: { label: [`sidecar.paas/pod=${r.name}`] } })).toEqual([]);
  });

  it('case 14: delete stops the main, then sidecars one at a time in reverse order; Succeeded', async () => {
    const r = run(fourContainers(uniqueName('c14'), false));
    await r.start();
    await allListening(r);
    await r.stop({ gracePeriodSeconds: 30 });
    expect(only(await podLog(d, r.name), /TERM|exit/)).toEqual([
      'm1 TERM',
      'm1 exit',
      's3 TERM',
      's3 exit',
      's2 TERM',
      's2 exit',
      's1 TERM',
      's1 exit',
    ]);
    expect(r.status().phase).toBe('Succeeded');
    await r.delete();
    expect(await d.listContainers({ all: true, filters: { label: [`sidecar.paas/pod=${r.name}`] } })).toEqual([]);
  });

  it('case 15: every preStop starts at deletion and they run together; TERM order unchanged', async () => {
    const r = run(fourContainers(uniqueName('c15'), true));
    await r.start();
    await allListening(r);
    await r.stop();
    const events = r.status().events;
    // Each hook returned only once all four had begun: they ran together (rule 14), none failed or timed out.
    expect(events.filter((e) => e.reason === 'FailedPreStopHook')).toEqual([]);
    const log = await podLog(d, r.name);
    expect(log.filter((l) => l.endsWith('preStop')).sort()).toEqual([
      'm1 preStop',
      's1 preStop',
      's2 preStop',
      's3 preStop',
    ]);
    // Every container's termination began (its `Killing` event) before any stop signal was sent.
    expect(events.filter((e) => e.reason === 'Killing').map((e) => e.container)).toEqual(['s1', 's2', 's3', 'm1']);
    expect(only(log, /TERM/)).toEqual(['m1 TERM', 's3 TERM', 's2 TERM', 's1 TERM']);
    // And a hook runs before its own container's stop signal (rule 15: TERM after the preStop).
    for (const n of ['m1', 's1', 's2', 's3'])
      expect(log.indexOf(`${n} preStop`)).toBeLessThan(log.indexOf(`${n} TERM`));
  });

  it('case 16: a sidecar ignoring TERM is killed when the budget runs out', async () => {
    const r = run(
      testPod(uniqueName('c16'), {
        initContainers: [container('s1', { restartPolicy: 'Always', onTerm: 'ignore' })],
        containers: [container('m1')],
      }),
    );
    await r.start();
    await allListening(r);
    const t0 = Date.now();
    await r.stop({ gracePeriodSeconds: 10 });
    const elapsed = Date.now() - t0;
    const v = r.status();
    expect(only(await podLog(d, r.name), /TERM|exit/)).toEqual(['m1 TERM', 'm1 exit', 's1 TERM']);
    expect(status(v, 's1').state.terminated?.exitCode).toBe(137);
    // The budget (10 s) decides the KILL: not before it, and well short of the default 30 s grace.
    expect(elapsed).toBeGreaterThanOrEqual(9500);
    expect(elapsed).toBeLessThan(20_000);
  });

  it('case 18 (rule 18): deleting a pod stuck in init ends promptly', async () => {
    const r = run(
      testPod(uniqueName('c18d'), {
        initContainers: [
          container('s1', {
            restartPolicy: 'Always',
            startupProbe: { exec: { command: ['false'] }, periodSeconds: 5, failureThreshold: 10 },
          }),
          container('i2'),
        ],
        containers: [container('m1')],
      }),
    );
    await r.start();
    await r.waitFor((v) => status(v, 's1').state.running !== undefined, { timeoutMs: 20_000 });
    await waitForLog(d, r.name, ['s1 start']);
    const t0 = Date.now();
    await r.delete({ gracePeriodSeconds: 30 });
    // Promptly: nothing that is not running waits out the 30 s budget.
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('case 17: a Job completes when its main exits 0; the sidecar is stopped and not restarted', async () => {
    const r = run(
      testPod(uniqueName('c17'), {
        restartPolicy: 'Never',
        initContainers: [container('s1', { restartPolicy: 'Always' })],
        containers: [container('m1', { body: runFor(3) })],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => x.phase === 'Succeeded' && status(x, 's1').state.terminated !== undefined, {
      timeoutMs: 20_000,
    });
    expect(status(v, 's1').restartCount).toBe(0);
    expect(v.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
    // Still stopped a moment later (nothing restarts after completion): wait for any further event.
    await expect(r.waitFor((x) => x.events.length > v.events.length, { timeoutMs: 1500 })).rejects.toThrow(/not met/);
  });

  it('case 18: a Job whose main exits 2 fails; sidecars are stopped', async () => {
    const r = run(
      testPod(uniqueName('c18'), {
        restartPolicy: 'Never',
        initContainers: [container('s1', { restartPolicy: 'Always' }), container('s2', { restartPolicy: 'Always' })],
        containers: [container('m1', { body: runFor(1, 2) })],
      }),
    );
    await r.start();
    const v = await r.waitFor(
      (x) => x.phase === 'Failed' && [status(x, 's1'), status(x, 's2')].every((s) => s.state.terminated),
      { timeoutMs: 20_000 },
    );
    expect(status(v, 'm1').state.terminated?.exitCode).toBe(2);
    expect(only(await podLog(d, r.name), /TERM/)).toEqual(['s2 TERM', 's1 TERM']);
  });

  it('case 19: OnFailure restarts a failing main once while the sidecar keeps running; then Succeeded', async () => {
    const r = run(
      testPod(uniqueName('c19'), {
        restartPolicy: 'OnFailure',
        volumes: [{ name: 'state', emptyDir: {} }],
        initContainers: [container('s1', { restartPolicy: 'Always' })],
        containers: [
          container('m1', {
            body: 'if [ -f /state/ran ]; then exit 0; fi; touch /state/ran; sleep 1; exit 1',
            volumeMounts: [{ name: 'state', mountPath: '/state' }],
          }),
        ],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => x.phase === 'Succeeded' && status(x, 's1').state.terminated !== undefined, {
      timeoutMs: 20_000,
    });
    expect(status(v, 'm1').restartCount).toBe(1);
    expect(status(v, 's1').restartCount).toBe(0);
    const log = await podLog(d, r.name);
    expect(log.filter((l) => l === 'm1 start')).toHaveLength(2);
    expect(log.indexOf('s1 TERM')).toBeGreaterThan(log.lastIndexOf('m1 exit'));
  });

  it('case 20: Always restarts a main that exits 0; the sidecar untouched; Running', async () => {
    const r = run(
      testPod(uniqueName('c20'), {
        restartPolicy: 'Always',
        initContainers: [container('s1', { restartPolicy: 'Always' })],
        containers: [container('m1', { body: runFor(1) })],
      }),
    );
    await r.start();
    const v = await r.waitFor((x) => status(x, 'm1').restartCount >= 2, { timeoutMs: 20_000 });
    expect(status(v, 's1')).toMatchObject({ restartCount: 0, started: true });
    expect(status(v, 's1').state.running).toBeDefined();
    expect(v.phase).toBe('Running');
  });
});
