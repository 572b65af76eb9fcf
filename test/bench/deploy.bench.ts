/**
 * `npm run bench`: one run on this machine, written to docs/benchmarks/deploy-<time>.txt with the
 * commit and the machine's load. Upload → first 200 of the new version through the router for first
 * deploys and redeploys, beside two floors measured in the same run (a bare `docker run` with its own
 * network namespace, and one joining a running container's); rollbacks (request → first 200 of the old
 * version), cold and warm; scale to zero's wake (request to a suspended app → its answer); success
 * under load during rolling updates. Every latency: raw samples, median, p90, p95 (interpolated), n;
 * warm-up runs are declared and not counted. No assertion: timing is not a test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { Labels } from '@sidecar/core';
import { PLATFORM_LABEL } from '@sidecar/kubelet';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { tgzOf } from '../support/bundles.js';
import { createApp, trafficLoop } from '../support/deploys.js';
import { cleanupPlatformContainers } from '../support/docker-cleanup.js';
import { startPlatform, type RunningPlatform } from '../support/platform.js';
import {
  DEPLOY_STEPS,
  deploySteps,
  dockerRunFloors,
  quantile,
  rawSamples,
  rolloutSteps,
  runHeader,
  settled,
  summary,
  thawedSince,
  untilIdle,
  untilRoutesSwitched,
  untilServing,
  type Observer,
} from './deploy-bench-parts.js';

const n = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS_WARMUP = n('BENCH_WARMUP', 2);
const RUNS_FIRST = n('BENCH_FIRST', 20);
const RUNS_REDEPLOY = n('BENCH_REDEPLOY', 20);
const RUNS_FLOOR = n('BENCH_FLOOR', 20);
const RUNS_ROLLBACK = n('BENCH_ROLLBACK', 20);
const RUNS_WAKE = n('BENCH_WAKE', 20);
const RUNS_UNDER_LOAD = n('BENCH_UNDER_LOAD', 3);
/** The log shipper sidecar is on by default; `BENCH_LOGS=off` creates every app without it. */
const LOGS = process.env.BENCH_LOGS ?? 'on';
/**
 * How first deploys, redeploys and rollbacks see their first 200 (deploy-bench-parts.ts `Observer`):
 * `poll` (default), `quiet`, or `both`, which take turns sample by sample and are printed apart.
 */
const OBSERVERS: Observer[] = ((v) => {
  if (v === 'both') return ['quiet', 'poll'];
  if (v === 'quiet' || v === 'poll') return [v];
  throw new Error(`BENCH_OBSERVER must be quiet, poll or both, not ${v}`);
})(process.env.BENCH_OBSERVER ?? 'poll');
const observerOf = (i: number): Observer => OBSERVERS[i % OBSERVERS.length]!;
/** One latency per observer in use. */
type Series = Record<Observer, number[]>;
const series = (): Series => ({ quiet: [], poll: [] });
const labelled = (name: string, o: Observer) => (OBSERVERS.length > 1 ? `${name}, ${o} observer` : name);

const docker = new Docker();
const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  console.log(line);
};

async function upload(
  p: RunningPlatform,
  app: string,
  marker: string,
): Promise<{ id: string; t0: number; wall0: number }> {
  const bundle = await tgzOf({ 'index.js': `module.exports = (q, s) => s.end(${JSON.stringify(marker)});\n` });
  const wall0 = Date.now();
  const t0 = performance.now();
  const res = await p.api$(`/api/v1/apps/${app}/deploys`, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip' },
    body: new Uint8Array(bundle),
  });
  if (res.status !== 202) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return { id: ((await res.json()) as { id: string }).id, t0, wall0 };
}

/** Each counted upload's steps (deploySteps), first deploys and redeploys apart, per observer. */
const uploadSteps = {
  first: { quiet: [] as number[][], poll: [] as number[][] },
  redeploy: { quiet: [] as number[][], poll: [] as number[][] },
};

/**
 * Upload → first 200 with `marker`; returns the ms, after the deploy has settled (its old pod gone).
 * With `record`, the upload's steps are kept for the breakdown.
 */
async function uploadToServing(
  p: RunningPlatform,
  app: string,
  marker: string,
  record?: number[][],
  observer: Observer = 'poll',
): Promise<number> {
  const { id, t0, wall0 } = await upload(p, app, marker);
  if (observer === 'quiet') await untilRoutesSwitched(p, app, id);
  const ms = await untilServing(p, app, marker, t0);
  const d = await settled(p, app, id);
  record?.push(deploySteps(d, wall0, ms));
  return ms;
}

async function rollbackToServing(p: RunningPlatform, app: string, version: number, marker: string, observer: Observer) {
  const wall0 = Date.now();
  const t0 = performance.now();
  const res = await p.api$(`/api/v1/apps/${app}/rollback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ version }),
  });
  if (res.status !== 202) throw new Error(`rollback: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  if (observer === 'quiet') await untilRoutesSwitched(p, app, id);
  const ms = await untilServing(p, app, marker, t0);
  await settled(p, app, id);
  return { ms, wall0, warm: await thawedSince(p, app, wall0) };
}

/** Deletes an app and waits until the engine has none of its containers left (so it adds no noise). */
async function removeApp(p: RunningPlatform, app: string): Promise<void> {
  await p.api$(`/api/v1/apps/${app}`, { method: 'DELETE' });
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${Labels.app}=${app}`, `${PLATFORM_LABEL}=${p.platformId}`] },
    });
    if (left.length === 0) return;
  }
  throw new Error(`${app}: containers left 60 s after its deletion`);
}

async function main(): Promise<void> {
  for (const line of runHeader()) say(line);
  const images = await ensurePlatformImages({ docker });
  const floors = await dockerRunFloors(docker, images.logicBase, RUNS_FLOOR);
  // Warm rollbacks at their default window (10 min) unless BENCH_ROLLBACK_WINDOW_MS says otherwise.
  const p = await startPlatform({
    SIDECAR_BACKOFF_SCALE: '1',
    SIDECAR_KEEP_RELEASES: '200',
    SIDECAR_ROLLBACK_WINDOW_MS: process.env.BENCH_ROLLBACK_WINDOW_MS ?? '600000',
  });
  const sidecars = { logs: LOGS !== 'off' };
  try {
    // Warm-up, not counted: the first deploys of a fresh platform fill caches (images, npm, V8).
    await createApp(p, 'bench-warmup', { sidecars });
    for (let i = 0; i < RUNS_WARMUP; i++) await uploadToServing(p, 'bench-warmup', `warmup-${i}`);
    await removeApp(p, 'bench-warmup');

    // First deploys: a new app each time; each removed after it served (bench-0 stays for what follows).
    const first = series();
    for (let i = 0; i < RUNS_FIRST; i++) {
      const o = observerOf(i);
      await createApp(p, `bench-${i}`, { sidecars });
      first[o].push(await uploadToServing(p, `bench-${i}`, `first-${i}`, uploadSteps.first[o], o));
      if (i > 0) await removeApp(p, `bench-${i}`);
    }
    const redeploy = series();
    for (let i = 0; i < RUNS_REDEPLOY; i++) {
      const o = observerOf(i);
      redeploy[o].push(await uploadToServing(p, 'bench-0', `redeploy-${i}`, uploadSteps.redeploy[o], o));
    }

    // Rollbacks, each from a settled app, as a user rolls back. Cold: cycling through v1, v2, v3 never
    // goes back to the release just replaced (the warm one); warm: alternating between two does. Each
    // sample is classed by what happened (a pod thawed since the request), not by where it came from.
    const markers = new Map([
      [1, 'first-0'],
      [2, 'redeploy-0'],
      [3, 'redeploy-1'],
    ]);
    const cold = series();
    const warm = series();
    const steps: Record<Observer, Record<string, number[]>> = { quiet: {}, poll: {} };
    const rollbackOnce = async (version: number, o: Observer) => {
      const r = await rollbackToServing(p, 'bench-0', version, markers.get(version)!, o);
      if (r.warm) return void warm[o].push(r.ms);
      cold[o].push(r.ms);
      for (const [step, stepMs] of Object.entries(await rolloutSteps(p, 'bench-0', r.wall0, r.ms)))
        (steps[o][step] ??= []).push(stepMs);
    };
    const cycle = Array.from({ length: RUNS_ROLLBACK }, (_, i) => (i % 3) + 1);
    for (const [i, version] of cycle.entries()) await rollbackOnce(version, observerOf(i));
    // Now serving the cycle's last target with the one before it warm: alternate between the two.
    const pair = [cycle.at(-2) ?? 2, cycle.at(-1) ?? 1];
    for (let i = 0; i < RUNS_ROLLBACK; i++) await rollbackOnce(pair[i % 2]!, observerOf(Math.floor(i / 2)));

    // Scale to zero: request to a suspended app → its answer (the router holds it while the app wakes).
    const wake: number[] = [];
    const wakeFailures = { count: 0 };
    if (RUNS_WAKE > 0) {
      await createApp(p, 'bench-nap', { sidecars, scaleToZero: { enabled: true, idleSeconds: 1 } });
      await uploadToServing(p, 'bench-nap', 'awake');
      let woken = 0;
      for (let i = 0; i < RUNS_WAKE; i++) {
        await untilIdle(p, 'bench-nap', woken);
        wake.push(await untilServing(p, 'bench-nap', 'awake', performance.now(), wakeFailures));
        woken = Date.now();
      }
      await removeApp(p, 'bench-nap');
    }

    const floor = quantile(floors.ownNetns, 0.5);
    const perObserver = (name: string, s: Series, f: (v: number[]) => string): [string, string][] =>
      OBSERVERS.map((o) => [labelled(name, o), f(s[o])]);
    const ratio = (v: number[]) => (v.length > 0 ? (quantile(v, 0.5) / floor).toFixed(1) : '-');
    const rows: [string, string][] = [
      ['log shipper sidecar (BENCH_LOGS)', LOGS],
      ['warm-up deploys (not counted)', String(RUNS_WARMUP)],
      ['how the first 200 is seen (BENCH_OBSERVER)', OBSERVERS.join(', ')],
      ...perObserver('first deploy (upload → first 200)', first, summary),
      ...perObserver('redeploy (upload → first 200 from the new version)', redeploy, summary),
      ['floor: bare docker run, own network namespace', summary(floors.ownNetns)],
      ["floor: bare docker run joining a running container's network namespace", summary(floors.joinedNetns)],
      ...perObserver('ratio first deploy / floor (medians, own namespace)', first, ratio),
      ...perObserver('ratio redeploy / floor (medians, own namespace)', redeploy, ratio),
      ...perObserver('rollback, cold (request → first 200 from the old version, new pods)', cold, summary),
      ...perObserver('rollback, warm (to the release just replaced: its frozen pods thawed)', warm, summary),
      ['wake (request to an app scaled to zero → its answer)', summary(wake)],
      ['requests to the waking app that failed', String(wakeFailures.count)],
    ];
    if (RUNS_UNDER_LOAD > 0) {
      // Success rate under load (8 concurrent GET/POST loops) during rolling updates of 3 replicas; the
      // load runs until the last rollout has finished (its old pods stopped).
      await p.api$('/api/v1/apps/bench-0', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ replicas: 3 }),
      });
      await uploadToServing(p, 'bench-0', 'scaled');
      const traffic = trafficLoop(p, 'bench-0', { concurrency: 8, maxMs: 600_000 });
      for (let i = 0; i < RUNS_UNDER_LOAD; i++) await uploadToServing(p, 'bench-0', `under-load-${i}`);
      await traffic.stop();
      const total = traffic.bodies.length + traffic.failures.length;
      rows.push([
        `requests during ${RUNS_UNDER_LOAD} rolling updates of 3 replicas (8 concurrent GET/POST loops)`,
        `${traffic.bodies.length}/${total} succeeded (${((100 * traffic.bodies.length) / Math.max(1, total)).toFixed(2)} %)`,
      ]);
    }
    say('\n| measure | result |\n|---|---|');
    for (const [k, v] of rows) say(`| ${k} | ${v} |`);
    const median = (v: number[] | undefined, none: string) => {
      const known = (v ?? []).filter((x) => Number.isFinite(x));
      return known.length > 0 ? quantile(known, 0.5).toFixed(0) : none;
    };
    const columns = (names: string[]) => `| step | ${names.join(' | ')} |\n|---|${names.map(() => '---|').join('')}`;
    say(
      `\nWhere a cold rollback's time goes (medians, from the new pod's events):\n${columns(OBSERVERS.map((o) => labelled('ms', o)))}`,
    );
    for (const k of Object.keys(steps[OBSERVERS[0]!]))
      say(`| ${k} | ${OBSERVERS.map((o) => median(steps[o][k], 'no event')).join(' | ')} |`);
    const uploadColumns = OBSERVERS.flatMap((o) => [labelled('first deploy', o), labelled('redeploy', o)]);
    say(`\nWhere an upload's time goes (medians, from the deploy's recorded instants):\n${columns(uploadColumns)}`);
    DEPLOY_STEPS.forEach((name, i) => {
      const cells = OBSERVERS.flatMap((o) =>
        [uploadSteps.first[o], uploadSteps.redeploy[o]].map((rows) =>
          median(
            rows.map((r) => r[i]!),
            '-',
          ),
        ),
      );
      say(`| ${name} | ${cells.join(' | ')} |`);
    });
    say('\nRaw samples (ms, in the order taken):');
    const samples: [string, number[]][] = [
      ['floor, own namespace', floors.ownNetns],
      ['floor, joined namespace', floors.joinedNetns],
      ...OBSERVERS.flatMap((o): [string, number[]][] => [
        [labelled('first deploy', o), first[o]],
        [labelled('redeploy', o), redeploy[o]],
        [labelled('rollback, cold', o), cold[o]],
        [labelled('rollback, warm', o), warm[o]],
      ]),
      ['wake', wake],
    ];
    for (const [k, v] of samples) say(`- ${k}: ${rawSamples(v)}`);
    say(
      `load average at the end ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await cleanupPlatformContainers(p);
    await p.stop();
  }
  const dir = join(import.meta.dirname, '../../docs/benchmarks');
  mkdirSync(dir, { recursive: true });
  // To the second: short runs one after another end within the same minute.
  const file = join(dir, `deploy-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-')}.txt`);
  writeFileSync(file, `${out.join('\n')}\n`);
  console.log(`raw output: ${file}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
