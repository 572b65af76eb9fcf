import { isDomainError, type App, type PodView, type Release, type Target } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The one contract of `Target` (core/src/ports.ts), registered as vitest cases for any
 * implementation: each target's test file calls `targetContract` with a harness that makes
 * the target and its test releases. What is checked is what a user of the platform sees:
 * pods in the API's (Kubernetes-shaped) Pod form, releases replacing each other, replicas,
 * a failed rollout leaving the previous release serving, remove leaving nothing behind,
 * one-off jobs' exit codes and output. The cases run in order on one app.
 */
export const ContractCase = {
  ping: 'ping',
  rollout: 'rollout',
  newRelease: 'newRelease',
  scale: 'scale',
  notReady: 'notReady',
  runJob: 'runJob',
  remove: 'remove',
} as const;
export type ContractCase = (typeof ContractCase)[keyof typeof ContractCase];

export interface TargetHarness {
  target: Target;
  /** An app of this harness, named `name` (unique per run), with replicas 1 unless overridden. */
  app(name: string, over?: Partial<App>): App;
  /** A release whose pods start and become Ready. */
  release(app: string, version: number): Release;
  /** A release whose pods start but never become Ready. */
  brokenRelease(app: string, version: number): Release;
  /** What of the app is still on the backend (containers, volumes, cluster objects), by name. */
  leftovers(app: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface ContractOptions {
  /** Makes the harness (once per suite). */
  harness: () => Promise<TargetHarness>;
  /** Two app names unique to this run: the one the cases run on and a bystander. */
  apps: { main: string; other: string };
  /** When set, the whole suite is skipped, saying why (e.g. no cluster configured). */
  skipAll?: string | undefined;
  /** Cases this target cannot run, each with the reason (reported as skipped, never dropped). */
  skip?: Partial<Record<ContractCase, string>>;
  /** Per-case timeout (real engines start containers). */
  timeoutMs?: number;
}

const never = () => {
  throw new Error('expected a rejection');
};

/** Every pod of the app is Ready, of `release`, in the Pod shape of API.md with the logic as a started native sidecar. */
function expectServing(pods: PodView[], release: number, replicas: number): void {
  expect(pods.map((p) => [p.release, p.ready])).toEqual(Array.from({ length: replicas }, () => [release, true]));
  for (const p of pods) {
    expect(p).toMatchObject({
      phase: 'Running',
      conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]),
      initContainerStatuses: [expect.objectContaining({ name: 'app', sidecar: true, started: true, ready: true })],
      containerStatuses: [
        expect.objectContaining({
          name: 'runtime',
          sidecar: false,
          ready: true,
          state: { running: expect.objectContaining({ startedAt: expect.any(String) }) },
        }),
      ],
    });
  }
}

export function targetContract(title: string, opts: ContractOptions): void {
  if (opts.skipAll) {
    console.info(`skipped: ${title}: ${opts.skipAll}`);
    describe.skip(`${title} (skipped: ${opts.skipAll})`, () => {
      it('the Target contract', () => undefined);
    });
    return;
  }
  describe(title, () => {
    const { main, other } = opts.apps;
    let h: TargetHarness;
    const signal = () => new AbortController().signal;
    const apply = (app: App, release: Release) =>
      h.target.apply({ app, release, signal: signal(), log: () => undefined });
    const timeout = opts.timeoutMs ?? 120_000;
    /** A case, or a skipped one whose title carries the reason. */
    const contractCase = (c: ContractCase, name: string, fn: () => Promise<void>) => {
      const reason = opts.skip?.[c];
      if (reason) {
        console.info(`skipped: ${title}: ${name}: ${reason}`);
        it.skip(`${name} (skipped: ${reason})`, () => undefined);
        return;
      }
      it(name, fn, timeout);
    };

    beforeAll(async () => {
      h = await opts.harness();
    }, 300_000);
    afterAll(async () => {
      if (!h) return;
      try {
        for (const a of [main, other]) await h.target.remove(a);
      } finally {
        await h.close();
      }
    }, 300_000);

    contractCase(ContractCase.ping, 'ping resolves while the backend answers', async () => {
      await expect(h.target.ping()).resolves.toBeUndefined();
    });

    contractCase(ContractCase.rollout, 'apply a release: status shows Ready pods of that release', async () => {
      await apply(h.app(main), h.release(main, 1));
      const pods = await h.target.status(main);
      expectServing(pods, 1, 1);
    });

    contractCase(
      ContractCase.newRelease,
      'apply a new release: only pods of the new release remain, in the Kubernetes Pod shape',
      async () => {
        const before = (await h.target.status(main)).map((p) => p.name);
        await apply(h.app(main, { currentRelease: 1 }), h.release(main, 2));
        const pods = await h.target.status(main);
        expectServing(pods, 2, 1);
        for (const name of before) expect(pods.map((p) => p.name)).not.toContain(name);
      },
    );

    contractCase(ContractCase.scale, 'replicas are honoured, up and down', async () => {
      await apply(h.app(main, { currentRelease: 2, replicas: 2 }), h.release(main, 3));
      expectServing(await h.target.status(main), 3, 2);
      await apply(h.app(main, { currentRelease: 3, replicas: 1 }), h.release(main, 3));
      expectServing(await h.target.status(main), 3, 1);
    });

    contractCase(
      ContractCase.notReady,
      'a release that never becomes ready: apply rejects with the reason, the previous release keeps serving',
      async () => {
        const error = await apply(h.app(main, { currentRelease: 3 }), h.brokenRelease(main, 4)).then(
          never,
          (e: unknown) => e,
        );
        expect(isDomainError(error) && error.code).toBe('not_ready');
        expect((error as Error).message).toMatch(/^v4 did not become ready: .*runtime/s);
        expectServing(await h.target.status(main), 3, 1);
      },
    );

    contractCase(ContractCase.runJob, "runJob: the command's exit code and output", async () => {
      let started = 0;
      const result = await h.target.runJob({
        app: h.app(main, { currentRelease: 3 }),
        release: h.release(main, 3),
        jobId: `j_${main.replace(/[^a-z0-9]/g, '')}`,
        command: ['sh', '-c', 'echo job-output; echo job-error >&2; exit 3'],
        env: {},
        signal: signal(),
        onStarted: () => started++,
      });
      expect(result).toMatchObject({ exitCode: 3 });
      expect(result.output).toContain('job-output');
      expect(result.output).toContain('job-error');
      expect(started).toBe(1);
      // A job is not one of the app's pods, and leaves none behind.
      expectServing(await h.target.status(main), 3, 1);
    });

    contractCase(
      ContractCase.remove,
      "remove: nothing of the app remains, another app's pods are untouched",
      async () => {
        await apply(h.app(other), h.release(other, 1));
        const bystander = await h.leftovers(other);
        await h.target.remove(main);
        expect(await h.target.status(main)).toEqual([]);
        // A cluster's garbage collector may still be removing dependents (ReplicaSets) once the pods are gone.
        await expect.poll(() => h.leftovers(main), { timeout: 60_000, interval: 500 }).toEqual([]);
        expectServing(await h.target.status(other), 1, 1);
        expect(await h.leftovers(other)).toEqual(bystander);
      },
    );
  });
}
