import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container, PodEvent } from '@sidecar/core';
import { dump } from 'js-yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  TEST_IMAGES,
  cleanupPods,
  container,
  docker,
  ensureTestImages,
  runFor,
  testPod,
  uniqueName,
  waitForLog,
} from '@sidecar/kubelet/test-support';
import { assertBuilt, indexOf, leftovers, podsNamed, runSidecar, type CliProcess } from './test-support.js';

/**
 * `sidecar pod run|get|delete` end to end: the built command in child processes, the real Docker
 * engine, NATIVE-SIDECARS cases through the CLI. Every test owns uniquely named pods; its leftovers
 * (processes, containers, volumes) are removed after it.
 */
const d = docker();
let dir: string;
const ENV = () => ({
  SIDECAR_PAUSE_IMAGE: TEST_IMAGES.pause,
  SIDECAR_BACKOFF_SCALE: '0.05',
  SIDECAR_RUN_DIR: join(dir, 'run'),
});

const owned = new Map<string, { pods: string[]; jobs: string[]; procs: ChildProcess[] }>();
const own = (ctx: TestContext) => {
  let o = owned.get(ctx.task.id);
  if (!o) owned.set(ctx.task.id, (o = { pods: [], jobs: [], procs: [] }));
  return o;
};

function sidecar(ctx: TestContext, ...args: string[]): CliProcess {
  const p = runSidecar(args, ENV(), { jsonLines: args[1] !== 'delete' });
  own(ctx).procs.push(p.child);
  return p;
}
async function manifest(name: string, doc: unknown, format: 'yaml' | 'json' = 'yaml'): Promise<string> {
  const file = join(dir, `${name}.${format}`);
  await writeFile(file, format === 'json' ? JSON.stringify(doc) : dump(doc));
  return file;
}
const sidecarC = (name: string, opts: Parameters<typeof container>[1] = {}): Container =>
  container(name, { restartPolicy: 'Always', ...opts });
const started = (events: PodEvent[]) => events.filter((e) => e.reason === 'Started').map((e) => e.container);

beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), 'sidecar-cli-test-'));
  await ensureTestImages(d);
});
afterEach(async (ctx) => {
  const o = owned.get(ctx.task.id);
  if (!o) return;
  for (const p of o.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  const jobPods = (await Promise.all(o.jobs.map((j) => podsNamed(d, `${j}-`)))).flat();
  await cleanupPods(d, [...o.pods, ...jobPods]);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.concurrent('sidecar pod run', () => {
  it('case 1: prints the lifecycle as JSON lines in kubelet order, then Succeeded; exit 0; removes the pod', async (ctx) => {
    const name = uniqueName('cli-c1');
    own(ctx).pods.push(name);
    const file = await manifest(
      name,
      testPod(name, {
        restartPolicy: 'Never',
        initContainers: [container('i1', { body: runFor(2) }), sidecarC('s1'), container('i2', { body: runFor(2) })],
        containers: [container('m1', { body: runFor(3) })],
      }),
    );
    const run = sidecar(ctx, 'pod', 'run', file);
    expect(await run.exit()).toBe(0);
    const events = run.events();
    expect(started(events)).toEqual(['i1', 's1', 'i2', 'm1']);
    expect(indexOf(events, 'i1', 'Exited')).toBeLessThan(indexOf(events, 's1', 'Started'));
    expect(indexOf(events, 'i2', 'Exited')).toBeLessThan(indexOf(events, 'm1', 'Started'));
    expect(indexOf(events, 'm1', 'Exited')).toBeLessThan(indexOf(events, 's1', 'Killing')); // S1 overlapped I2 and M1
    for (const e of events) expect(Object.keys(e)).toEqual(['time', 'container', 'reason', 'message']);
    const final = run.final();
    expect(final?.status.name).toBe(name);
    expect(final?.status.phase).toBe('Succeeded');
    expect(run.stdout().trimEnd().split('\n').at(-1)).toBe(JSON.stringify(final)); // the status is the last line
    expect(await leftovers(d, name)).toBe(0);
  });

  it('case 18: a Job-like pod whose main exits 2 Failed, its sidecar stopped; exit 1', async (ctx) => {
    const name = uniqueName('cli-c18');
    own(ctx).pods.push(name);
    const file = await manifest(
      name,
      testPod(name, {
        restartPolicy: 'Never',
        initContainers: [sidecarC('s1')],
        containers: [container('m1', { body: runFor(1, 2) })],
      }),
      'json',
    );
    const run = sidecar(ctx, 'pod', 'run', file);
    expect(await run.exit()).toBe(1);
    const events = run.events();
    expect(events.find((e) => e.container === 'm1' && e.reason === 'Exited')?.message).toContain('code 2');
    expect(indexOf(events, 'm1', 'Exited')).toBeLessThan(indexOf(events, 's1', 'Killing'));
    const status = run.final()!.status;
    expect(status.phase).toBe('Failed');
    const s1 = status.initContainerStatuses.find((s) => s.name === 's1');
    expect(s1?.state.terminated).toBeDefined();
    expect(s1?.restartCount).toBe(0);
  });

  it('manifest errors: exit 2, one line naming the problem, nothing started', async (ctx) => {
    const name = uniqueName('cli-bad');
    own(ctx).pods.push(name);
    const probe = testPod(name, {
      initContainers: [container('i1', { readinessProbe: { exec: { command: ['true'] } } })],
      containers: [container('m1')],
    });
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name },
      spec: { template: { spec: { restartPolicy: 'Always', containers: [container('m1')] } } },
    };
    const cases: [string, string | RegExp][] = [
      [await manifest(`${name}-probe`, probe), 'spec.initContainers[0].readinessProbe'],
      [
        await writeText(`${name}-bad.yaml`, 'apiVersion: v1\nkind: Pod\nmetadata: {name: x\nspec: [\n'),
        /invalid YAML: .* at line \d+, column \d+/,
      ],
      [join(dir, 'does-not-exist.yaml'), 'does-not-exist.yaml: no such file'],
      [
        await manifest(`${name}-kind`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name } }),
        'kind: Unsupported value: "Deployment"',
      ],
      [await manifest(`${name}-job`, job), 'spec.template.spec.restartPolicy: Unsupported value: "Always"'],
    ];
    await Promise.all(
      cases.map(async ([file, message]) => {
        const run = sidecar(ctx, 'pod', 'run', file);
        expect(await run.exit(), file).toBe(2);
        const lines = run.stderr().trimEnd().split('\n');
        expect(lines, run.stderr()).toHaveLength(1);
        expect(lines[0]).toMatch(
          typeof message === 'string' ? new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : message,
        );
        expect(run.stdout()).toBe('');
      }),
    );
    expect(await leftovers(d, name)).toBe(0);
  });

  it('case 17: a batch/v1 Job with a sidecar completes; the sidecar is stopped, never restarted; exit 0', async (ctx) => {
    const name = uniqueName('cli-c17');
    own(ctx).jobs.push(name);
    const file = await manifest(name, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            terminationGracePeriodSeconds: 5,
            initContainers: [sidecarC('s1')],
            containers: [container('m1', { body: runFor(3) })],
          },
        },
      },
    });
    const run = sidecar(ctx, 'pod', 'run', file);
    expect(await run.exit()).toBe(0);
    const events = run.events();
    expect(events[0]).toMatchObject({ container: '', reason: 'SuccessfulCreate' });
    expect(started(events)).toEqual(['s1', 'm1']); // s1 started once: not restarted after it was stopped
    expect(indexOf(events, 'm1', 'Exited')).toBeLessThan(indexOf(events, 's1', 'Killing'));
    expect(indexOf(events, 's1', 'Exited')).toBeLessThan(indexOf(events, '', 'Completed'));
    const final = run.final()!;
    expect(final.status.phase).toBe('Succeeded');
    expect(final.status.name.startsWith(`${name}-`)).toBe(true);
    expect(final.status.initContainerStatuses[0]).toMatchObject({
      name: 's1',
      restartCount: 0,
      state: { terminated: {} },
    });
    expect(final.job).toMatchObject({ name, succeeded: 1, failed: 0, conditions: [{ type: 'Complete' }] });
    expect(await podsNamed(d, `${name}-`)).toEqual([]);
  });

  it('--timeout deletes a pod that runs forever: main TERMed first, then the sidecar; exit 1', async (ctx) => {
    const name = uniqueName('cli-to');
    own(ctx).pods.push(name);
    // m1 takes 1 s to exit after TERM, s1 exits at once on TERM: s1 exits last only if it got TERM after m1 exited.
    const file = await manifest(
      name,
      testPod(name, { initContainers: [sidecarC('s1')], containers: [container('m1', { termDelay: 1 })] }),
    );
    const run = sidecar(ctx, 'pod', 'run', file, '--timeout', '2');
    expect(await run.exit()).toBe(1);
    const events = run.events();
    const deadline = indexOf(events, '', 'DeadlineExceeded');
    expect(deadline).toBeGreaterThan(indexOf(events, 's1', 'Created'));
    expect(events[deadline]?.message).toContain('--timeout 2s');
    // The deadline counts from the pod's creation (like activeDeadlineSeconds), not from m1's start: on a
    // busy host it can come while m1's (or even s1's) `docker start` is in flight, so that its Started
    // event follows the deadline, or before m1 was launched at all. Rule 12: nothing is launched once the
    // deletion began; a start in flight is finished and that container is ordered as running (m1 gets
    // its TERM first; the sidecar once m1 has exited).
    const launchedLate = events.slice(deadline).filter((e) => e.reason === 'Created');
    expect(launchedLate).toEqual([]);
    if (indexOf(events, 'm1', 'Created') >= 0) {
      expect(indexOf(events, 'm1', 'Started')).toBeGreaterThan(indexOf(events, 'm1', 'Created'));
      expect(indexOf(events, 'm1', 'Exited')).toBeGreaterThan(deadline);
      // Rule 16: s1 got its TERM only once m1 had exited, or once the budget ran out. (m1's own
      // TERM can come so soon after its start that its shell has no trap yet: PID 1 ignores it, and m1 is
      // then killed at the end of the budget, when s1 gets its TERM too. Exited events carry the exit time.)
      const at = (container: string) => Date.parse(events[indexOf(events, container, 'Exited')]!.time);
      const grace = Number(/grace period (\d+)s/.exec(events[deadline]!.message)?.[1]);
      const budgetEnd = Date.parse(events[deadline]!.time) + grace * 1000;
      expect(at('s1')).toBeGreaterThanOrEqual(Math.min(at('m1'), budgetEnd));
      expect(run.final()?.status.containerStatuses[0]?.state.terminated).toBeDefined();
    } else {
      expect(indexOf(events, 'm1', 'Started')).toBe(-1);
      expect(run.final()?.status.containerStatuses[0]?.state.waiting).toBeDefined();
    }
    expect(indexOf(events, 's1', 'Exited')).toBeGreaterThan(deadline);
    expect(await leftovers(d, name)).toBe(0);
  });

  it('pod get and pod delete --grace-period 5 from another process go through the run process; nothing restarts', async (ctx) => {
    const name = uniqueName('cli-del');
    own(ctx).pods.push(name);
    const file = await manifest(
      name,
      testPod(name, { initContainers: [sidecarC('s1')], containers: [container('m1', { termDelay: 1 })] }),
    );
    const run = sidecar(ctx, 'pod', 'run', file);
    await run.waitForEvent((e) => e.container === 'm1' && e.reason === 'Started', 'm1 Started');
    await waitForLog(d, name, ['m1 start']); // its TERM trap is set: a TERM before it would be ignored (PID 1)

    const get = sidecar(ctx, 'pod', 'get', name);
    expect(await get.exit()).toBe(0);
    const got = JSON.parse(get.stdout()) as { status: { name: string; phase: string } };
    expect(got.status).toMatchObject({ name, phase: 'Running' });

    const del = sidecar(ctx, 'pod', 'delete', name, '--grace-period', '5');
    expect(await del.exit()).toBe(0);
    expect(del.stdout()).toBe(`pod "${name}" deleted\n`);
    // The deletion is complete when `pod delete` returns: the run process has removed the pod.
    expect(await leftovers(d, name)).toBe(0);
    expect(await run.exit()).toBe(1);
    const events = run.events();
    const deleting = indexOf(events, '', 'Deleting');
    expect(events[deleting]?.message).toContain('grace period 5s');
    expect(started(events.slice(deleting))).toEqual([]); // no sidecar (or anything) restarted once the deletion began
    expect(indexOf(events, 'm1', 'Exited')).toBeLessThan(indexOf(events, 's1', 'Exited'));
    expect(run.final()?.status.name).toBe(name);

    const gone = sidecar(ctx, 'pod', 'get', name);
    expect(await gone.exit()).toBe(1);
    expect(gone.stderr()).toContain(`pod "${name}" not found`);
  });

  it('SIGTERM to the run process deletes the pod cleanly', async (ctx) => {
    const name = uniqueName('cli-term');
    own(ctx).pods.push(name);
    const file = await manifest(
      name,
      testPod(name, { initContainers: [sidecarC('s1')], containers: [container('m1', { termDelay: 1 })] }),
    );
    const run = sidecar(ctx, 'pod', 'run', file);
    await run.waitForEvent((e) => e.container === 'm1' && e.reason === 'Started', 'm1 Started');
    await waitForLog(d, name, ['m1 start']); // its TERM trap is set: a TERM before it would be ignored (PID 1)
    run.child.kill('SIGTERM');
    expect(await run.exit()).toBe(1);
    const events = run.events();
    expect(events.find((e) => e.reason === 'Deleting')?.message).toContain('received SIGTERM');
    expect(indexOf(events, 'm1', 'Exited')).toBeLessThan(indexOf(events, 's1', 'Exited'));
    expect(run.final()?.status.name).toBe(name);
    expect(await leftovers(d, name)).toBe(0);
  });

  it('--keep leaves the ended pod; pod get and pod delete then work without a run process', async (ctx) => {
    const name = uniqueName('cli-keep');
    own(ctx).pods.push(name);
    const file = await manifest(
      name,
      testPod(name, {
        restartPolicy: 'Never',
        initContainers: [sidecarC('s1')],
        containers: [container('m1', { body: runFor(0) })],
      }),
    );
    const run = sidecar(ctx, 'pod', 'run', file, '--keep');
    expect(await run.exit()).toBe(0);
    expect(await leftovers(d, name)).toBeGreaterThan(0);

    const get = sidecar(ctx, 'pod', 'get', name);
    expect(await get.exit()).toBe(0);
    expect(JSON.parse(get.stdout())).toMatchObject({ status: { name, phase: 'Succeeded' } });
    const del = sidecar(ctx, 'pod', 'delete', name);
    expect(await del.exit()).toBe(0);
    expect(await leftovers(d, name)).toBe(0);
  });
});

async function writeText(fileName: string, text: string): Promise<string> {
  const file = join(dir, fileName);
  await writeFile(file, text);
  return file;
}
