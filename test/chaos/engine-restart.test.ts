import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYSTANDER_BODY, type Bystander, type PhaseReport, startBystander } from '../support/bystander.js';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy } from '../support/deploys.js';
import { freePort } from '../support/global-setup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { deployEnded, upload } from './support/deploys.js';
import { forwardPort } from './support/forwarder.js';
import { appLogLines, holdings } from './support/holdings.js';
import { loopFigures, recordFault } from './support/report.js';
import { routerServers } from './support/router-view.js';
import { SecondEngine, hostPlatformImages } from './support/second-engine.js';
import { waitUntil } from './support/wait.js';

/*
 * The platform's Docker engine restarted (dockerd stopped, then started again) under traffic. Not the
 * host's engine — every other test and session uses it — but one of this file's own, in a network
 * namespace of its own, with the whole platform (launcher, API, router, worker, Redis) in that namespace
 * and its images copied in (second-engine.ts). The bystander app is requested through the router from
 * the host, as before. Without live-restore the engine stops every container: the worker notices, and
 * each pod's sandbox is re-created and its containers started again in the pod's order (kubelet
 * SandboxChanged); with live-restore they keep running and the worker's watchers reconnect. Either way
 * the app serves again, a deploy afterwards works, and apps, releases, deploys and logs are all there.
 */
const canRun = SecondEngine.available();
if (!canRun) console.info('skipped: the engine restart needs root, dockerd, nsenter and iproute2 (a second engine)');

let engine: SecondEngine | undefined;
let p: RunningPlatform;
let by: Bystander;
const forwards: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  if (!canRun) return;
  engine = await SecondEngine.start({ liveRestore: false });
  await engine.loadImages(await hostPlatformImages());
  // The test's clients talk to 127.0.0.1; the platform listens in the engine's namespace.
  const [apiPort, routerPort] = [await freePort(), await freePort()];
  for (const port of [apiPort, routerPort]) forwards.push(await forwardPort(port, engine.address));
  p = await startPlatform(
    {
      SIDECAR_DOCKER_SOCKET: engine.socket,
      SIDECAR_API_HOST: '0.0.0.0',
      SIDECAR_ROUTER_HOST: '0.0.0.0',
      // The kubelet's own crash-loop back-off: recovery is measured as users would see it.
      SIDECAR_BACKOFF_SCALE: '1',
    },
    { wrap: engine.nsenter, apiPort, routerPort },
  );
  by = await startBystander(p, { maxMs: 6 * 60_000 });
}, 240_000);

afterAll(async () => {
  await by?.stop();
  await p?.stop();
  for (const f of forwards) await f.close();
  await engine?.close();
}, 180_000);

interface PodSeen {
  name: string;
  initContainerStatuses: Array<{ name: string; restartCount: number }>;
  containerStatuses: Array<{ name: string; restartCount: number }>;
  events: Array<{ time: string; container: string; reason: string; message: string }>;
}
async function podsOf(app: string): Promise<PodSeen[]> {
  return ((await (await p.api$(`/api/v1/apps/${app}/pods`)).json()) as { items: PodSeen[] }).items;
}
/** The runtime container's log lines of one pod, as stored by the platform. */
const runtimeLines = async (app: string, pod: string) =>
  (await appLogLines(p, app, 'runtime')).filter((i) => i.pod === pod).map((i) => i.line);
/** What the last request through the router got (a failure's message shows it). */
let lastAnswer = '';
const serves = async () => {
  const r = await p.get(by.app).catch((e: unknown) => ({ status: 0, body: String(e) }));
  lastAnswer = `${r.status} ${r.body.slice(0, 300)}`;
  return r.status === 200 && r.body === BYSTANDER_BODY ? true : undefined;
};

/**
 * Why the app does not serve, for the failure's message: the last answer, the pods and their recent
 * events as the API reports them, the router's servers, the engine's containers, NAT rules and
 * sockets, and the platform's recent log.
 */
async function evidence(): Promise<string> {
  const pods = await podsOf(by.app).catch((e: unknown) => `(pods: ${String(e)})` as const);
  const podLines =
    typeof pods === 'string'
      ? [pods]
      : pods.flatMap((pod) => [
          `pod ${pod.name}: ${JSON.stringify([...pod.initContainerStatuses, ...pod.containerStatuses])}`,
          ...pod.events.slice(-40).map((e) => `  ${e.time} ${e.container || '(pod)'} ${e.reason}: ${e.message}`),
        ]);
  // Without the router's access lines and the API's request lines (a deploy's status is polled).
  const log = p.output.filter((l) => !l.includes('"msg":"access"') && !l.includes('"responseTime"')).slice(-120);
  return [
    `last answer: ${lastAnswer}`,
    ...podLines,
    `router servers:\n${await routerServers(p, by.app)}`,
    engine!.state(),
    `platform log (last ${log.length} lines):`,
    ...log,
  ].join('\n');
}

/**
 * Restarts the engine under the bystander's traffic: phases `engine stopping` (SIGTERM until dockerd
 * exited), `engine down`, `engine back` (answering, until the app serves again through the router) and
 * `after` (a stretch of traffic that must all succeed). `whileDown` runs while the engine is stopped
 * (the engine stays down until it ends). Returns the figures.
 */
async function restartEngine<T>(label: string, whileDown?: () => Promise<T>) {
  const e = engine!;
  by.phase(`${label}: engine stopping`);
  const stoppedAt = Date.now();
  const stopMs = await e.stopDaemon();
  by.phase(`${label}: engine down`);
  const downAt = Date.now();
  const duringOutage = await whileDown?.();
  const downMs = Date.now() - downAt;
  const startMs = await e.startDaemon();
  by.phase(`${label}: engine back`);
  const backAt = Date.now();
  await waitUntil(`${by.app} serves again through the router`, serves, {
    timeoutMs: 150_000,
    everyMs: 50,
    describe: evidence,
  });
  const servingAgainMs = Date.now() - backAt;
  by.phase(`${label}: after`);
  const base = by.report().phases.at(-1)!;
  await waitUntil(
    'traffic after the recovery',
    () => ((by.report().phases.at(-1)?.app.requests ?? 0) >= base.app.requests + 100 ? true : undefined),
    { timeoutMs: 60_000 },
  );
  const phases = by.report().phases;
  const fault = phases.filter((x) => x.name.startsWith(`${label}: engine`));
  const failed = fault.filter((x) => x.app.lastFailureAt !== null).at(-1);
  const lastFailure = failed?.app.lastFailureAt ?? null;
  return {
    stoppedAt,
    stopMs,
    downMs,
    duringOutage,
    startMs,
    servingAgainMs,
    phases,
    // From SIGTERM to the engine until the first app request that succeeded after the last that failed.
    recoverMs: lastFailure === null ? 0 : (failed!.app.fineAgainAt ?? Date.now()) - stoppedAt,
    appFailuresDuringFault: fault.reduce((n, x) => n + x.app.failures, 0),
    after: phases.at(-1)!,
  };
}

/** A rollout after the restart: a new release of the bystander (same answer), and no request may fail meanwhile. */
async function redeploy(label: string) {
  by.phase(`${label}: redeploy`);
  const d = await deploy(
    p,
    by.app,
    await tgzOf({
      'index.js': `module.exports = (req, res) => res.end(${JSON.stringify(BYSTANDER_BODY)}); // ${label}`,
    }),
  );
  const phase = by.report().phases.at(-1)!;
  by.phase(`${label}: done`);
  return { d, phase };
}

/** One row of docs/reliability.md from a restart's figures and the rollout after it. */
function recordRestart(
  label: string,
  r: Awaited<ReturnType<typeof restartEngine<unknown>>>,
  o: {
    fault: string;
    usersSee: string;
    dataLost: string;
    redeploy: Awaited<ReturnType<typeof redeploy>>;
    extra?: Record<string, unknown>;
  },
): void {
  const span = { from: `${label}: engine stopping`, recovered: `${label}: after` };
  recordFault({
    fault: o.fault,
    usersSee: o.usersSee,
    appRequests: loopFigures(r.phases, 'app', span),
    apiRequests: loopFigures(r.phases, 'api', span),
    dataLost: o.dataLost,
    recoverMs: r.recoverMs,
    recoveredFrom: 'fault start',
    details: {
      engineStopMs: r.stopMs,
      engineDownMs: r.downMs,
      engineStartMs: r.startMs,
      servingAgainAfterEngineBackMs: r.servingAgainMs,
      appFailuresDuringFault: r.appFailuresDuringFault,
      redeployAfter: o.redeploy.d.deploy.status,
      redeployMs: o.redeploy.d.deploy.timings.totalMs,
      appFailuresDuringRedeploy: o.redeploy.phase.app.failures,
      ...o.extra,
    },
  });
}

const startedOrder = (pod: PodSeen, after: string) =>
  pod.events.filter((e) => e.reason === 'Started' && e.time >= after).map((e) => e.container);

describe.skipIf(!canRun)('the Docker engine restarted', () => {
  it('without live-restore: every container stops; pods are re-created in order, serve again, and nothing is lost', async () => {
    const before = await holdings(p, by.app);
    const [pod] = await podsOf(by.app);
    expect(pod).toBeDefined();
    const declared = [...pod!.initContainerStatuses, ...pod!.containerStatuses].map((c) => c.name);
    const faultAt = new Date().toISOString();
    await createApp(p, 'during');
    const bundle = await tgzOf({ 'index.js': `module.exports = (q, s) => s.end('deployed');` });

    // A deploy asked for while the engine is down: it fails, saying so, once its retries are spent.
    const r = await restartEngine('no live-restore', async () =>
      deployEnded(p, 'during', await upload(p, 'during', bundle), 90_000),
    );
    const during = r.duringOutage!;
    expect(during.deploy.status, during.log).toBe('failed');
    expect(during.deploy.error?.message).toMatch(/^the Docker engine does not answer \(stopped or restarting\?\)/);
    const after: PhaseReport = r.after;
    expect(after.app.failures).toBe(0);
    // The same pod, its sandbox re-created and every container started again once, in the pod's order.
    const [again] = await podsOf(by.app);
    expect(again?.name).toBe(pod!.name);
    expect(again!.events.map((e) => e.reason)).toContain('SandboxChanged');
    expect(startedOrder(again!, faultAt)).toEqual(declared);
    for (const c of [...again!.initContainerStatuses, ...again!.containerStatuses]) expect(c.restartCount).toBe(1);
    expect((await fetch(`${p.api}/readyz`)).status).toBe(200);
    // Nothing lost: the app, its release, its deploys; the runtime's lines of both runs, the SIGTERM
    // line it wrote while the engine stopped it included.
    expect(await holdings(p, by.app)).toEqual(before);
    const lines = await runtimeLines(by.app, pod!.name);
    expect(lines.filter((l) => l.startsWith('runtime: serving '))).toHaveLength(2);
    expect(lines).toContain('runtime: SIGTERM: draining');

    const { d, phase } = await redeploy('no live-restore');
    expect(d.deploy.status, d.log).toBe('succeeded');
    expect(phase.app.failures).toBe(0);
    const retried = await deploy(p, 'during', bundle);
    expect(retried.deploy.status, retried.log).toBe('succeeded');
    expect((await p.get('during')).body).toBe('deployed');

    recordRestart('no live-restore', r, {
      fault: 'Docker engine restarted (live-restore off)',
      usersSee:
        'apps: requests fail from when the engine stops their containers until the pods are re-created and ready; then normal',
      dataLost: 'none: app, releases, deploys, and the log lines of both runs (the SIGTERM line included)',
      redeploy: { d, phase },
      extra: {
        deployDuringOutage: `${during.deploy.status}: ${during.deploy.error?.message ?? ''}`,
        sameDeployAfter: retried.deploy.status,
      },
    });
  });

  it('with live-restore: the containers keep running, the worker reconnects, and a deploy afterwards works', async () => {
    await engine!.setLiveRestore(true);
    const before = await holdings(p, by.app);
    const [pod] = await podsOf(by.app);
    const restartsBefore = [...pod!.initContainerStatuses, ...pod!.containerStatuses].map((c) => c.restartCount);
    const faultAt = new Date().toISOString();

    const r = await restartEngine('live-restore');
    // The router reaches pods at their IPs: nothing on a request's path belongs to the engine.
    expect(r.appFailuresDuringFault).toBe(0);
    expect(r.after.app.failures).toBe(0);
    // Nothing was restarted: the same containers run on.
    const [same] = await podsOf(by.app);
    expect(same?.name).toBe(pod!.name);
    expect([...same!.initContainerStatuses, ...same!.containerStatuses].map((c) => c.restartCount)).toEqual(
      restartsBefore,
    );
    expect(same!.events.filter((e) => e.time >= faultAt).map((e) => e.reason)).not.toContain('SandboxChanged');
    expect(await holdings(p, by.app)).toEqual(before);

    // The old pod's exit is seen (its watchers reconnected) and its last lines are read (the log reader too).
    const { d, phase } = await redeploy('live-restore');
    expect(d.deploy.status, d.log).toBe('succeeded');
    expect(phase.app.failures).toBe(0);
    const lines = await runtimeLines(by.app, pod!.name);
    expect(lines).toContain('runtime: SIGTERM: draining');
    expect(lines.join('\n')).not.toMatch(/removed before its output was read/);

    recordRestart('live-restore', r, {
      fault: 'Docker engine restarted (live-restore on)',
      usersSee: 'nothing; the containers keep running',
      dataLost: 'none: app, releases, deploys; the old pod’s last log lines after the restart',
      redeploy: { d, phase },
    });
  });
});
