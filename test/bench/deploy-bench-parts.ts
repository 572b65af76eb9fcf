import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type Docker from 'dockerode';
import type { RunningPlatform } from '../support/platform.js';

/**
 * The q-quantile of the samples, linearly interpolated between the two nearest ranks (R-7, what
 * numpy and spreadsheets compute): with n = 5 the p90 lies between the 4th and 5th samples, never
 * simply the maximum.
 */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

export const summary = (xs: readonly number[]) =>
  xs.length === 0
    ? 'no samples'
    : `median ${quantile(xs, 0.5).toFixed(0)} ms, p90 ${quantile(xs, 0.9).toFixed(0)} ms, p95 ${quantile(xs, 0.95).toFixed(0)} ms (n=${xs.length})`;

export const rawSamples = (xs: readonly number[]) => xs.map((x) => x.toFixed(0)).join(' ') || '-';

/** The run's header: when, which commit, the machine and its load (docs/benchmarks.md shows it with the figures). */
export function runHeader(title = 'deploy benchmark'): string[] {
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
  return [
    `${title}, ${new Date().toISOString()}`,
    `commit ${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  ];
}

/**
 * Two floors, measured in the same run: a bare `docker run` of a hello-world container (create, start,
 * wait) with its own network namespace, and the same joining a running container's namespace (what a
 * pod of the platform does with a warm sandbox).
 */
export async function dockerRunFloors(
  docker: Docker,
  image: string,
  runs: number,
): Promise<{ ownNetns: number[]; joinedNetns: number[] }> {
  const holder = await docker.createContainer({ Image: image, Entrypoint: ['sleep', '3600'] });
  await holder.start();
  const once = async (networkMode?: string) => {
    const t0 = performance.now();
    const c = await docker.createContainer({
      Image: image,
      Entrypoint: ['echo', 'hello world'],
      HostConfig: networkMode ? { NetworkMode: networkMode } : {},
    });
    await c.start();
    await c.wait();
    const ms = performance.now() - t0;
    await c.remove({ force: true });
    return ms;
  };
  const ownNetns: number[] = [];
  const joinedNetns: number[] = [];
  try {
    // Interleaved, so that both see the same moments of the machine.
    for (let i = 0; i < runs; i++) {
      ownNetns.push(await once());
      joinedNetns.push(await once(`container:${holder.id}`));
    }
  } finally {
    await holder.remove({ force: true });
  }
  return { ownNetns, joinedNetns };
}

/** Waits until the deploy is final: its rollout has also stopped the previous pod. */
export interface SettledDeploy {
  status: string;
  createdAt: string;
  startedAt: string | null;
  builtAt: string | null;
}

/** Waits until the deploy is final (its old pod gone); the deploy's record. */
export async function settled(p: RunningPlatform, app: string, id: string): Promise<SettledDeploy> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const d = (await (await p.api$(`/api/v1/apps/${app}/deploys/${id}`)).json()) as SettledDeploy;
    if (d.status !== 'deploying' && d.status !== 'queued' && d.status !== 'building') return d;
  }
  throw new Error(`deploy ${id} not final after 120 s`);
}

export const DEPLOY_STEPS = [
  'upload → deploy recorded (API: bundle stored, deploy queued)',
  'deploy recorded → build begins (queue, worker)',
  'build (extract, prepare, logic image)',
  'image built → first 200 (pod start, readiness, routes switched)',
] as const;

/**
 * Where an upload's time went, in ms, from the deploy's recorded instants (the platform's clock, the
 * same machine's): `wall0` the upload's start and `servingMs` its first 200, on the wall clock.
 */
export function deploySteps(d: SettledDeploy, wall0: number, servingMs: number): number[] {
  const [created, started, built] = [d.createdAt, d.startedAt, d.builtAt].map((s) => (s ? Date.parse(s) : Number.NaN));
  return [created! - wall0, started! - created!, built! - started!, wall0 + servingMs - built!];
}

/**
 * How a sample sees its first 200. `poll`: GETs through the router every 5 ms from the request on.
 * `quiet`: first follows the deploy's log (one open request; the API passes each line on as it is
 * stored) until the platform says the routes were switched, then polls the same way. Polling from the
 * start is ~150 requests/s through the router and the old pod, on the same 2 cores as the rollout it
 * measures, while the floors run with nothing beside them; the quiet observer's figure can only be
 * later than the truth (it starts polling after the switch is logged, which follows the router's ack).
 */
export type Observer = 'poll' | 'quiet';

/** Resolves once the deploy's log has a line saying its routes were switched, or the log ends. */
export async function untilRoutesSwitched(p: RunningPlatform, app: string, deployId: string): Promise<void> {
  const res = await p.api$(`/api/v1/apps/${app}/deploys/${deployId}/logs?follow=true`);
  if (!res.ok || !res.body) throw new Error(`following deploy ${deployId}: ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const lines = (rest + value).split('\n');
      rest = lines.pop() ?? '';
      if (lines.some((l) => /^routes: |^deploy: v\d+ is serving/.test(l))) return;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * Polls the router until the app answers `marker`; the ms since `t0`. Answers that are not a 200 (or no
 * answer at all) are counted in `failures` when given: a failed request is not a slow one.
 */
export async function untilServing(
  p: RunningPlatform,
  app: string,
  marker: string,
  t0: number,
  failures?: { count: number },
): Promise<number> {
  for (;;) {
    const r = await p.get(app).catch(() => ({ status: 0, body: '' }));
    if (r.status === 200 && r.body === marker) return performance.now() - t0;
    if (r.status !== 200 && failures) failures.count++;
    if (performance.now() - t0 > 60_000) throw new Error(`${app} not serving ${marker} after 60 s`);
    await new Promise((r2) => setTimeout(r2, 5));
  }
}

interface PodEvents {
  release: number | null;
  suspended?: { reason: string; since: string };
  conditions: { type: string; status: string; lastTransitionTime?: string }[];
  events: { time: string; container: string; reason: string }[];
}

const podsOf = async (p: RunningPlatform, app: string) =>
  ((await (await p.api$(`/api/v1/apps/${app}/pods`)).json()) as { items: PodEvents[] }).items;

/** Whether one of the app's pods was thawed (a warm pod taken back) since `wall0`. */
export async function thawedSince(p: RunningPlatform, app: string, wall0: number): Promise<boolean> {
  return (await podsOf(p, app)).some((pod) =>
    pod.events.some((e) => e.reason === 'Thawed' && Date.parse(e.time) >= wall0),
  );
}

/**
 * Waits until the app scaled to zero again: status idle and every pod suspended since `afterWall` (ms since
 * the epoch; the views of the previous suspension linger a moment after a wake and must not count).
 */
export async function untilIdle(p: RunningPlatform, app: string, afterWall = 0): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const { status } = (await (await p.api$(`/api/v1/apps/${app}`)).json()) as { status: string };
    if (status !== 'idle') continue;
    const pods = await podsOf(p, app);
    const fresh = (x: PodEvents) => x.suspended?.reason === 'idle' && Date.parse(x.suspended.since) >= afterWall;
    if (pods.length > 0 && pods.every(fresh)) return;
  }
  throw new Error(`${app} not idle after 60 s`);
}

/**
 * The steps of the newest pod's start, in ms, from its events and conditions: request → scheduled →
 * sandbox ready (Kubernetes' PodReadyToStartContainers, by its lastTransitionTime) → the first container
 * created, its start, the logic sidecar's start and startup probe, the runtime's start, its readiness,
 * and readiness → first 200 (`servingMs`: request → first 200 on the wall clock). Also request →
 * sandbox ready as one figure (issue 17, goal 2).
 */
export async function rolloutSteps(
  p: RunningPlatform,
  app: string,
  wall0: number,
  servingMs: number,
): Promise<Record<string, number>> {
  const pod = [...(await podsOf(p, app))].sort((a, b) => (b.release ?? 0) - (a.release ?? 0))[0];
  const at = (container: string, reason: string) => {
    const e = pod?.events.find((x) => x.container === container && x.reason === reason && Date.parse(x.time) >= wall0);
    return e ? Date.parse(e.time) - wall0 : Number.NaN;
  };
  const sandbox = pod?.conditions.find((c) => c.type === 'PodReadyToStartContainers' && c.status === 'True');
  const sandboxReady = sandbox?.lastTransitionTime ? Date.parse(sandbox.lastTransitionTime) - wall0 : Number.NaN;
  // The log shipper (declared first, when on) is created and started before the logic sidecar is created.
  const shipper = at('logs', 'Created');
  const firstCreated = Number.isNaN(shipper) ? at('app', 'Created') : shipper;
  const marks = [
    at('', 'Scheduled'),
    sandboxReady,
    firstCreated,
    at('app', 'Created'),
    at('app', 'Started'),
    at('app', 'Ready'),
    at('runtime', 'Started'),
    at('runtime', 'Ready'),
    servingMs,
  ];
  const names = [
    'request → pod scheduled (API, queue, worker: the pod runner begins)',
    'pod scheduled → sandbox ready (PodReadyToStartContainers: network holder, volumes, the pod record)',
    'sandbox ready → first container created',
    'log shipper start (0 when off)',
    'logic sidecar start',
    'logic sidecar startup probe passes',
    'runtime start',
    'runtime boots, readiness passes',
    'routes switched → first 200',
  ];
  return {
    ...Object.fromEntries(names.map((n, i) => [n, marks[i]! - (i === 0 ? 0 : marks[i - 1]!)])),
    'request → sandbox ready (goal 2)': sandboxReady,
  };
}
