/**
 * `npm run bench`: from one run on this machine, the time from bundle upload to
 * the first 200 from the new version through the router — first deploys and
 * redeploys of a small bundle — beside the floor: a bare `docker run` of a
 * hello-world container. Medians and p90; no assertion (timing is not a test).
 */
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { tgzOf } from '../support/bundles.js';
import { createApp, trafficLoop } from '../support/deploys.js';
import { cleanupPlatformContainers } from '../support/docker-cleanup.js';
import { startPlatform, type RunningPlatform } from '../support/platform.js';

const RUNS_FIRST = Number(process.env.BENCH_FIRST ?? 5);
const RUNS_REDEPLOY = Number(process.env.BENCH_REDEPLOY ?? 10);
const RUNS_FLOOR = Number(process.env.BENCH_FLOOR ?? 10);
const RUNS_ROLLBACK = Number(process.env.BENCH_ROLLBACK ?? 5);
const RUNS_UNDER_LOAD = Number(process.env.BENCH_UNDER_LOAD ?? 3);
/**
 * The log shipper sidecar is on by default. `BENCH_LOGS=off` creates every app without it;
 * `BENCH_LOGS=compare` also deploys a twin of each app without it, interleaved with the
 * measured ones (same moment, same noise), and reports the difference of the medians.
 */
const LOGS = process.env.BENCH_LOGS ?? 'on';
const COMPARE = LOGS === 'compare';

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const fmt = (xs: number[]) =>
  xs.length === 0
    ? 'no samples'
    : `median ${quantile(xs, 0.5).toFixed(0)} ms, p90 ${quantile(xs, 0.9).toFixed(0)} ms (n=${xs.length})`;

async function uploadToServing(p: RunningPlatform, app: string, marker: string): Promise<number> {
  const bundle = await tgzOf({ 'index.js': `module.exports = (q, s) => s.end(${JSON.stringify(marker)});\n` });
  const t0 = performance.now();
  const res = await p.api$(`/api/v1/apps/${app}/deploys`, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip' },
    body: new Uint8Array(bundle),
  });
  if (res.status !== 202) throw new Error(`upload: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  const deadline = t0 + 60_000;
  for (;;) {
    const r = await p.get(app).catch(() => ({ status: 0, body: '' }));
    if (r.status === 200 && r.body === marker) return performance.now() - t0;
    if (performance.now() > deadline) {
      const log = await (await p.api$(`/api/v1/apps/${app}/deploys/${id}/logs`)).text();
      throw new Error(`${app} not serving ${marker} after 60 s:\n${log}`);
    }
    await new Promise((r2) => setTimeout(r2, 5));
  }
}

async function dockerRunFloor(): Promise<number[]> {
  const docker = new Docker();
  const images = await ensurePlatformImages({ docker });
  const times: number[] = [];
  for (let i = 0; i < RUNS_FLOOR; i++) {
    const t0 = performance.now();
    const c = await docker.createContainer({
      Image: images.logicBase,
      Entrypoint: ['echo', 'hello world'],
      HostConfig: { AutoRemove: false },
    });
    await c.start();
    await c.wait();
    times.push(performance.now() - t0);
    await c.remove({ force: true });
  }
  return times;
}

async function main(): Promise<void> {
  const floor = await dockerRunFloor();
  // Keep every image: the rollback runs go back to v1 and v2.
  // Warm rollbacks are opt-in (SIDECAR_ROLLBACK_WINDOW_MS); the bench measures them at 10 minutes.
  const p = await startPlatform({
    SIDECAR_BACKOFF_SCALE: '1',
    SIDECAR_KEEP_RELEASES: '100',
    SIDECAR_ROLLBACK_WINDOW_MS: process.env.BENCH_ROLLBACK_WINDOW_MS ?? '600000',
  });
  try {
    const first: number[] = [];
    const firstNoLogs: number[] = [];
    for (let i = 0; i < RUNS_FIRST; i++) {
      await createApp(p, `bench-${i}`, { sidecars: { logs: LOGS !== 'off' } });
      first.push(await uploadToServing(p, `bench-${i}`, `first-${i}`));
      if (!COMPARE) continue;
      await createApp(p, `bench-nolog-${i}`, { sidecars: { logs: false } });
      firstNoLogs.push(await uploadToServing(p, `bench-nolog-${i}`, `first-${i}`));
    }
    const redeploy: number[] = [];
    const redeployNoLogs: number[] = [];
    for (let i = 0; i < RUNS_REDEPLOY; i++) {
      redeploy.push(await uploadToServing(p, 'bench-0', `redeploy-${i}`));
      if (COMPARE) redeployNoLogs.push(await uploadToServing(p, 'bench-nolog-0', `redeploy-${i}`));
    }
    const cost = (on: number[], off: number[]) => `${(quantile(on, 0.5) - quantile(off, 0.5)).toFixed(0)} ms`;
    // Rollback: request → first 200 from the old version (no build: the old logic image is reused),
    // each from a settled app (the previous rollout finished, its old pod gone), as a user rolls back.
    // (Until 2026-11-27 the bench rolled back right after the previous rollback served: not comparable.)
    // A rollback to the release the last rollout replaced thaws its frozen pods (warm, SIDECAR_ROLLBACK_WINDOW_MS);
    // any other starts new pods (cold). Alternating v1/v2, the first two are cold and the rest warm; each
    // sample is classed by what happened (a pod thawed since the request), not by its index.
    const rollback: number[] = [];
    const warmRollback: number[] = [];
    const steps: Record<string, number[]> = {};
    for (let i = 0; i < RUNS_ROLLBACK; i++) {
      // Alternate between v1 (serves "first-0") and v2 ("redeploy-0"): each rollback changes what is served.
      const target = { version: i % 2 === 0 ? 1 : 2 };
      const marker = i % 2 === 0 ? 'first-0' : 'redeploy-0';
      const wall0 = Date.now();
      const t0 = performance.now();
      const res = await p.api$('/api/v1/apps/bench-0/rollback', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version: target.version }),
      });
      if (res.status !== 202) throw new Error(`rollback: ${res.status} ${await res.text()}`);
      const { id } = (await res.json()) as { id: string };
      for (;;) {
        const r = await p.get('bench-0').catch(() => ({ status: 0, body: '' }));
        if (r.status === 200 && r.body === marker) break;
        if (performance.now() - t0 > 60_000) throw new Error('rollback not serving after 60 s');
        await new Promise((r2) => setTimeout(r2, 5));
      }
      const ms = performance.now() - t0;
      await settled(p, 'bench-0', id);
      if (await thawedSince(p, 'bench-0', wall0)) {
        warmRollback.push(ms);
        continue;
      }
      rollback.push(ms);
      for (const [step, stepMs] of Object.entries(await rolloutSteps(p, 'bench-0', wall0, ms)))
        (steps[step] ??= []).push(stepMs);
    }
    const rows = [
      ['log shipper sidecar (BENCH_LOGS)', LOGS],
      ['first deploy (upload → first 200)', fmt(first)],
      ['redeploy (upload → first 200 from new version)', fmt(redeploy)],
      ['floor: bare docker run of a hello-world container', fmt(floor)],
      ['ratio first deploy / floor (medians)', (quantile(first, 0.5) / quantile(floor, 0.5)).toFixed(1)],
      ['ratio redeploy / floor (medians)', (quantile(redeploy, 0.5) / quantile(floor, 0.5)).toFixed(1)],
      ...(RUNS_ROLLBACK > 0
        ? [
            ['rollback, cold (request → first 200 from the old version, new pods)', fmt(rollback)],
            ['rollback, warm (to the release just replaced: its frozen pods thawed)', fmt(warmRollback)],
            ['raw samples, rollback cold / warm (ms)', `${raw(rollback)} / ${raw(warmRollback)}`],
          ]
        : []),
      ...(COMPARE
        ? [
            ['first deploy of a twin app without the log shipper', fmt(firstNoLogs)],
            ['redeploy of a twin app without the log shipper', fmt(redeployNoLogs)],
            ['log shipper cost, first deploy (median with − median without)', cost(first, firstNoLogs)],
            ['log shipper cost, redeploy (median with − median without)', cost(redeploy, redeployNoLogs)],
          ]
        : []),
    ];
    if (RUNS_UNDER_LOAD > 0) {
      // Success rate under load (8 concurrent GET/POST loops) during rolling updates of 3 replicas.
      await p.api$('/api/v1/apps/bench-0', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ replicas: 3 }),
      });
      await uploadToServing(p, 'bench-0', 'scaled');
      const traffic = trafficLoop(p, 'bench-0', { concurrency: 8, maxMs: 300_000 });
      for (let i = 0; i < RUNS_UNDER_LOAD; i++) await uploadToServing(p, 'bench-0', `under-load-${i}`);
      await traffic.stop();
      const total = traffic.bodies.length + traffic.failures.length;
      rows.push([
        `requests during ${RUNS_UNDER_LOAD} rolling updates of 3 replicas (8 concurrent GET/POST loops)`,
        `${traffic.bodies.length}/${total} succeeded (${((100 * traffic.bodies.length) / Math.max(1, total)).toFixed(2)} %)`,
      ]);
    }
    console.log('\n| measure | result |\n|---|---|');
    for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
    console.log("\nWhere a rollback's time goes (medians, from the new pod's events):\n| step | ms |\n|---|---|");
    for (const [k, v] of Object.entries(steps)) {
      const known = v.filter((x) => Number.isFinite(x));
      console.log(`| ${k} | ${known.length > 0 ? quantile(known, 0.5).toFixed(0) : 'no event'} |`);
    }
  } finally {
    await cleanupPlatformContainers(p);
    await p.stop();
  }
}

/** Waits until the deploy is final: its rollout has also stopped the previous pod. */
async function settled(p: RunningPlatform, app: string, id: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const d = (await (await p.api$(`/api/v1/apps/${app}/deploys/${id}`)).json()) as { status: string };
    if (d.status !== 'deploying' && d.status !== 'queued' && d.status !== 'building') return;
  }
  throw new Error(`deploy ${id} not final after 60 s`);
}

const raw = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ') || '-';

/** Whether one of the app's pods was thawed (a warm pod taken back) since `wall0`. */
async function thawedSince(p: RunningPlatform, app: string, wall0: number): Promise<boolean> {
  const { items } = (await (await p.api$(`/api/v1/apps/${app}/pods`)).json()) as { items: PodEvents[] };
  return items.some((pod) => pod.events.some((e) => e.reason === 'Thawed' && Date.parse(e.time) >= wall0));
}

interface PodEvents {
  release: number | null;
  events: { time: string; container: string; reason: string }[];
}

/**
 * The steps of the newest pod's start, in ms, from its events: request → logic sidecar created,
 * its start, its startup probe, the runtime's start, its readiness, and readiness → first 200
 * (`servingMs`: request → first 200 on the wall clock).
 */
async function rolloutSteps(
  p: RunningPlatform,
  app: string,
  wall0: number,
  servingMs: number,
): Promise<Record<string, number>> {
  const { items } = (await (await p.api$(`/api/v1/apps/${app}/pods`)).json()) as { items: PodEvents[] };
  const pod = [...items].sort((a, b) => (b.release ?? 0) - (a.release ?? 0))[0];
  const at = (container: string, reason: string) => {
    const e = pod?.events.find((x) => x.container === container && x.reason === reason && Date.parse(x.time) >= wall0);
    return e ? Date.parse(e.time) - wall0 : Number.NaN;
  };
  // The log shipper (declared first, when on) starts before the logic sidecar is created.
  const shipper = at('logs', 'Created');
  const sandboxReady = Number.isNaN(shipper) ? at('app', 'Created') : shipper;
  const marks = [
    sandboxReady,
    at('app', 'Created'),
    at('app', 'Started'),
    at('app', 'Ready'),
    at('runtime', 'Started'),
    at('runtime', 'Ready'),
    servingMs,
  ];
  const names = [
    'request → pod sandbox ready (API, queue, worker, sandbox)',
    'log shipper start (0 when off)',
    'logic sidecar start',
    'logic sidecar startup probe passes',
    'runtime start',
    'runtime boots, readiness passes',
    'routes switched → first 200',
  ];
  return Object.fromEntries(names.map((n, i) => [n, marks[i]! - (i === 0 ? 0 : marks[i - 1]!)]));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
