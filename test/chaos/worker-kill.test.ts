import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { BYSTANDER_BODY, type Bystander, startBystander } from '../support/bystander.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { deployEnded, deployLogText, followDeployLog, upload } from './support/deploys.js';
import { supervised } from './support/processes.js';
import { loopFigures, recordFault } from './support/report.js';
import { waitUntil } from './support/wait.js';

/*
 * The worker SIGKILLed in each phase of a deploy of an app that is serving (the bystander app itself
 * is redeployed, so its traffic loop is the app's users): the app keeps serving, the deploy ends
 * (succeeded or failed with a message, never stuck) once the launcher has restarted the worker and
 * BullMQ has handed the stalled job to it, and no container of the killed attempt is left behind.
 *
 * Each phase is caught the same way: when the deploy log shows the phase's first line, the worker is
 * frozen (SIGSTOP); the log as it stands then proves the phase has not ended (else the attempt is
 * let go and a new deploy tries again, at most 3 times), and the frozen worker is killed.
 */
const docker = new Docker();
const BODY = BYSTANDER_BODY;
let p: RunningPlatform;
let by: Bystander;
beforeAll(async () => {
  // No warm window: the last phase kills the worker while the replaced pod is being stopped, not frozen.
  p = await startPlatform({ SIDECAR_READY_TIMEOUT_MS: '60000', SIDECAR_ROLLBACK_WINDOW_MS: '0' });
  by = await startBystander(p, { maxMs: 8 * 60_000 });
}, 240_000);
afterAll(async () => {
  await by?.stop();
  await stopPlatform(p);
}, 120_000);

const handler = (version: string) =>
  tgzOf({ 'index.js': `// ${version}\nmodule.exports = (q, s) => s.end(${JSON.stringify(BODY)});\n` });

interface Phase {
  name: string;
  begins: RegExp;
  ends: RegExp;
  bundle: () => Promise<Buffer>;
}

const PHASES: Phase[] = [
  {
    name: 'build (npm install)',
    begins: /installing \d+ dependenc/,
    ends: /bundle with dependencies:/,
    bundle: () =>
      tgzOf({
        'package.json': JSON.stringify({ name: 'x', main: 'index.js', dependencies: { ms: '^2.1.3' } }),
        'index.js': `require('ms');\nmodule.exports = (q, s) => s.end(${JSON.stringify(BODY)});\n`,
      }),
  },
  { name: 'image build', begins: /^building image /, ends: /^built image /, bundle: () => handler('image') },
  {
    name: 'rollout, before the switch',
    begins: /^pod \S+: runtime started/,
    ends: /^routes: /,
    // Drains for 3 s on SIGTERM (as a real server finishing its requests): as the old pod of the next
    // phase, it is still stopping when that worker is killed.
    bundle: () =>
      tgzOf({
        'sidecar.json': JSON.stringify({ start: 'node server.js' }),
        'server.js': `const server = require('node:http').createServer((q, s) => s.end(${JSON.stringify(BODY)})).listen(process.env.PORT);
process.on('SIGTERM', () => { server.close(); setTimeout(() => process.exit(0), 3000); });
`,
      }),
  },
  {
    name: 'rollout, after the switch, before the old pod stopped',
    begins: /^stopping previous pod /,
    ends: /previous pods stopped/,
    bundle: () => handler('after-switch'),
  },
];

/** Deploys `bundle` to the bystander app and kills the worker inside `phase` (see the file's comment). */
async function killWorkerIn(phase: Phase): Promise<{ id: string; killedAt: number; attempts: number }> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const worker = supervised(p).find((c) => c.name === 'worker' && c.status === 'running')?.pid;
    if (!worker) throw new Error('no worker running');
    const id = await upload(p, by.app, await phase.bundle());
    let frozen = false;
    const follow = followDeployLog(p, by.app, id, (line) => {
      if (frozen || !phase.begins.test(line)) return;
      frozen = true;
      process.kill(worker, 'SIGSTOP');
    });
    await waitUntil(`the line that begins "${phase.name}"`, () => (frozen ? true : undefined), {
      timeoutMs: 120_000,
    });
    follow.stop();
    const log = await deployLogText(p, by.app, id);
    if (!phase.ends.test(log)) {
      by.phase(`worker killed: ${phase.name}`);
      const killedAt = Date.now();
      process.kill(worker, 'SIGKILL');
      return { id, killedAt, attempts: attempt };
    }
    // The phase ended before the worker froze: let this deploy finish and try again.
    process.kill(worker, 'SIGCONT');
    await deployEnded(p, by.app, id);
  }
  throw new Error(`could not catch the worker in "${phase.name}" in 3 deploys`);
}

/** The app's pods on the engine (from their containers), and the build containers (npm, image commit) of a deploy. */
async function leftovers(deployId: string) {
  const all = await docker.listContainers({
    all: true,
    filters: { label: [`sidecar.paas/platform=${p.platformId}`, `sidecar.paas/app=${by.app}`] },
  });
  const pods = [...new Set(all.map((c) => c.Labels['sidecar.paas/pod']).filter((x): x is string => !!x))].sort();
  const builds = [];
  for (const kind of ['npm-install', 'image-build'])
    builds.push(
      ...(await docker.listContainers({
        all: true,
        filters: { label: [`sidecar.paas/deploy=${deployId}`, `sidecar.paas/kind=${kind}`] },
      })),
    );
  return { pods, builds: builds.map((c) => c.Names[0]) };
}

describe('the worker SIGKILLed during a deploy', () => {
  for (const phase of PHASES) {
    it(`in ${phase.name}: the app serves throughout, the deploy ends, nothing is left behind`, async () => {
      const restartsBefore = supervised(p).find((c) => c.name === 'worker')!.restarts;
      const { id, killedAt, attempts } = await killWorkerIn(phase);
      const workerBack = await waitUntil(
        'the worker restarted',
        () => supervised(p).find((c) => c.name === 'worker' && c.status === 'running' && c.restarts > restartsBefore),
        { timeoutMs: 60_000 },
      );
      const workerBackAt = Date.now();
      const ended = await deployEnded(p, by.app, id);
      const endedAt = Date.now();
      by.phase(`after: ${phase.name}`);
      await waitUntil(
        'traffic after the deploy',
        () => (by.report().phases.at(-1)!.app.requests >= 20 ? true : undefined),
        {
          timeoutMs: 60_000,
        },
      );
      const report = by.report();
      const during = report.phases.find((x) => x.name === `worker killed: ${phase.name}`)!;

      expect(['succeeded', 'failed'], ended.log).toContain(ended.deploy.status);
      if (ended.deploy.status === 'failed') expect(ended.deploy.error?.message).toBeTruthy();
      expect(during.app.failures, report.appFailures.join('\n')).toBe(0);
      expect(report.phases.at(-1)!.app.failures).toBe(0);
      // The killed attempt's pods and build containers are gone: the app runs exactly its pods.
      const { items } = (await (await p.api$(`/api/v1/apps/${by.app}/pods`)).json()) as {
        items: Array<{ name: string; ready: boolean }>;
      };
      const left = await leftovers(id);
      expect(left.pods).toEqual(items.map((x) => x.name).sort());
      expect(items).toHaveLength(1);
      expect(left.builds).toEqual([]);

      recordFault({
        fault: `worker SIGKILLed in ${phase.name}`,
        usersSee: `apps: nothing; the deploy ${ended.deploy.status} after the worker came back${ended.deploy.status === 'failed' ? ` (${ended.deploy.error?.message ?? ''})` : ''}`,
        appRequests: loopFigures(report.phases, 'app', {
          from: `worker killed: ${phase.name}`,
          recovered: `after: ${phase.name}`,
        }),
        apiRequests: loopFigures(report.phases, 'api', {
          from: `worker killed: ${phase.name}`,
          recovered: `after: ${phase.name}`,
        }),
        dataLost: 'none (the deploy was retried from its last recorded state)',
        recoverMs: endedAt - killedAt,
        recoveredFrom: 'fault start',
        details: {
          workerBackMs: workerBackAt - killedAt,
          workerRestarts: workerBack.restarts,
          deploy: ended.deploy.status,
          deploysToCatchThePhase: attempts,
          retried: /attempt 2|transient error/.test(ended.log),
        },
      });
    });
  }
});
