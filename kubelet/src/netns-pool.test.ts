import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { Labels } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NETNS_HOLDER_LABEL,
  NETNS_ROLE,
  PLATFORM_LABEL,
  POOL_OWNER_LABEL,
  netnsHolderCreateOptions,
} from './container-options.js';
import { NetnsPool } from './netns-pool.js';
import { PodRunner } from './pod-runner.js';
import { ensurePodNetwork, removeContainer, removePodObjects } from './pod-sandbox.js';
import { poolOwner } from './pool-owner.js';
import { TEST_IMAGES, cleanupPods, docker, ensureTestImages, testPod, uniqueName } from './test-support.js';

/** Warm network namespaces: pods join a started holder and serve exactly as with their own sandbox. */
const d = docker();
const platformId = uniqueName('netns');
const pods: string[] = [];
const pools: NetnsPool[] = [];

const holdersOfPlatform = async () =>
  d.listContainers({
    all: true,
    filters: { label: [`${Labels.managed}=true`, `${Labels.role}=${NETNS_ROLE}`, `${PLATFORM_LABEL}=${platformId}`] },
  });
const exists = async (id: string) => (await d.listContainers({ all: true, filters: { id: [id] } })).length > 0;

function newPool(o: Partial<ConstructorParameters<typeof NetnsPool>[0]> = {}): NetnsPool {
  const pool = new NetnsPool({
    docker: d,
    pauseImage: TEST_IMAGES.pause,
    platformId,
    size: 1,
    warm: [[8080]],
    refillDelayMs: 0,
    ...o,
  });
  pools.push(pool);
  return pool;
}

/** A pod whose main serves its own name over HTTP on 8080. */
function webPod(name: string) {
  pods.push(name);
  return testPod(name, {
    containers: [
      {
        name: 'web',
        image: TEST_IMAGES.base,
        ports: [{ containerPort: 8080 }],
        command: [
          'sh',
          '-c',
          `mkdir -p /tmp/www && echo ${name} > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`,
        ],
        readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
      },
    ],
  });
}

/** A started holder as a pool of `owner` would leave it waiting. */
async function holder(owner: string, platform: string) {
  const c = await d.createContainer(
    netnsHolderCreateOptions({
      name: uniqueName('sidecar-holder-test'),
      image: TEST_IMAGES.pause,
      network: await ensurePodNetwork(d),
      ports: [8080],
      owner,
      platformId: platform,
    }),
  );
  await c.start();
  return c;
}

/** Another process that runs until killed (a second worker). */
async function liveProcess(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  return child as ChildProcess & { pid: number };
}

const until = async (check: () => Promise<boolean> | boolean, what: string) => {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  await ensureTestImages(d);
});
afterAll(async () => {
  await Promise.allSettled(pools.map((p) => p.close()));
  await cleanupPods(d, pods);
  for (const h of await holdersOfPlatform()) await removeContainer(d, h.Id);
});

describe('NetnsPool', () => {
  it('a pod joins a warm holder, serves at its pod IP, and takes the holder with it when deleted', async () => {
    const pool = newPool();
    await pool.start();
    expect(pool.available([8080])).toBe(1);

    const name = uniqueName('warm');
    const runner = new PodRunner({ docker: d, pod: webPod(name), pauseImage: TEST_IMAGES.pause, netnsPool: pool });
    await runner.start();
    await runner.waitFor((v) => v.ready, { timeoutMs: 20_000 });
    const pause = await d.getContainer(`${name}_pause`).inspect();
    const holderId = pause.Config.Labels[NETNS_HOLDER_LABEL];
    expect(holderId).toBeDefined();
    expect(pause.HostConfig.NetworkMode).toBe(`container:${holderId}`);
    // The pod's containers join the holder's namespaces directly (the pause is the pod's record).
    expect((await d.getContainer(`${name}-web`).inspect()).HostConfig.NetworkMode).toBe(`container:${holderId}`);

    // The router's path and the probes' path: the pod's IP; nothing is published on the host.
    expect(runner.address(8080)).toBe(`${runner.ip()}:8080`);
    expect(await (await fetch(`http://${runner.address(8080)}/`)).text()).toBe(`${name}\n`);
    expect((await d.getContainer(holderId!).inspect()).HostConfig.PortBindings ?? {}).toEqual({});

    // The claim is refilled in the background for the next pod.
    await until(() => pool.available([8080]) === 1, 'the pool to refill');

    await runner.delete({ gracePeriodSeconds: 2 });
    expect(await exists(holderId!)).toBe(false);
  });

  it('an adopted pod keeps its holder, and after everything stopped (host reboot) the holder starts again and the pod serves', async () => {
    const pool = newPool();
    await pool.start();
    const name = uniqueName('warm-adopt');
    const first = new PodRunner({ docker: d, pod: webPod(name), pauseImage: TEST_IMAGES.pause, netnsPool: pool });
    await first.start();
    await first.waitFor((v) => v.ready, { timeoutMs: 20_000 });
    await first.close();

    // Every container of the pod stops, as on a host reboot (the holder last, like the engine does).
    const holderId = (await d.getContainer(`${name}_pause`).inspect()).Config.Labels[NETNS_HOLDER_LABEL]!;
    // (The pause container, the pod's record, never ran: the holder is the sandbox.)
    expect((await d.getContainer(`${name}_pause`).inspect()).State.Status).toBe('created');
    await d.getContainer(`${name}-web`).stop({ t: 1 });
    await d.getContainer(holderId).stop({ t: 1 });

    const adopted = await PodRunner.adopt({ docker: d, podName: name });
    await adopted.waitFor((v) => v.ready, { timeoutMs: 20_000 });
    expect((await d.getContainer(holderId).inspect()).State.Running).toBe(true);
    expect(await (await fetch(`http://${adopted.address(8080)}/`)).text()).toBe(`${name}\n`);
    await adopted.delete({ gracePeriodSeconds: 2 });
    expect(await exists(holderId)).toBe(false);
  });

  it('a claim for ports no warm holder exposes misses, and that port set is warmed for the next', async () => {
    const pool = newPool({ warm: [] });
    await pool.start();
    expect(pool.claim([8080, 8443])).toBeUndefined();
    await until(() => pool.available([8080, 8443]) === 1, 'the new port set to be warmed');
    const id = pool.claim([8080, 8443])!;
    const info = await d.getContainer(id).inspect();
    expect(Object.keys(info.NetworkSettings.Ports ?? {}).sort()).toEqual(['8080/tcp', '8443/tcp']);
    await removeContainer(d, id);
  });

  it('refills wait while a pod is starting, even for an emptied port set, and go on once no start is left', async () => {
    const pool = newPool({ size: 2 });
    await pool.start();
    expect(pool.available([8080])).toBe(2);
    const endOne = pool.podStarting();
    const endTwo = pool.podStarting();
    const first = pool.claim([8080])!;
    await until(() => pool.refillsWaiting() === 1, 'the refill to wait for the pod starts');
    const second = pool.claim([8080])!; // nothing left: the refill still waits (the starts would pay for it)
    expect(pool.available([8080])).toBe(0);
    endOne();
    endOne(); // safe twice: the other start still counts
    expect(pool.refillsWaiting()).toBe(1);
    endTwo();
    await until(() => pool.available([8080]) === 2 && pool.refillsWaiting() === 0, 'the refill after the starts');
    for (const id of [first, second]) await removeContainer(d, id);
  });

  it('a refill waits for pod starts only so long: starts that never end cannot keep the pool empty', async () => {
    const pool = newPool({ size: 1, maxRefillWaitMs: 300 });
    await pool.start();
    const end = pool.podStarting(); // never ended here: a pod that never gets ready, or starts one after another
    const id = pool.claim([8080])!;
    await until(() => pool.available([8080]) === 1, 'the refill after its longest wait');
    end();
    await removeContainer(d, id);
  });

  it('claims closer together than the refill delay do not keep the pool empty', async () => {
    const pool = newPool({ size: 1, refillDelayMs: 400 });
    await pool.start();
    const taken = [pool.claim([8080])!];
    // A claim every 50 ms (misses while the pool is empty), as back-to-back pod starts make them: the refill
    // is due 400 ms after the first one, not after the last.
    await until(() => {
      const id = pool.claim([8080]);
      if (id !== undefined) taken.push(id);
      return taken.length === 2;
    }, 'a holder refilled while claims kept coming');
    await pool.close(); // the last claim armed another refill: not during the next test
    for (const id of taken) await removeContainer(d, id);
  });

  it('a claim that misses while a holder is being created gets that one when it has started', async () => {
    const pool = newPool({ size: 1, refillDelayMs: 0 });
    await pool.start();
    const end = pool.podStarting(); // holds the refill until the claim below has emptied the pool
    const first = pool.claim([8080])!;
    await until(() => pool.refillsWaiting() === 1, 'the refill to wait for the pod start');
    end();
    // A creation takes ~0.1 s or more of the engine's work: looked for at every turn of the event loop.
    for (const deadline = Date.now() + 15_000; !pool.isCreating([8080]); await new Promise(setImmediate))
      if (Date.now() > deadline) throw new Error('timed out waiting for the refill to create a holder');
    const endSecond = pool.podStarting(); // the claiming pod's start: the next holder waits for it
    const waiting = pool.claimSoon([8080]);
    // One claim waits per creation: another miss meanwhile is a miss (the pod makes its own namespace).
    expect(await pool.claimSoon([8080])).toBeUndefined();
    const second = await waiting;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect((await d.getContainer(second!).inspect()).State.Running).toBe(true);
    expect(pool.available([8080])).toBe(0); // handed to the claim, not left in the pool
    endSecond();
    await pool.close();
    for (const id of [first, second!]) await removeContainer(d, id);
  });

  it('a pod counts as starting until it is ready: the refill of the holder it took waits for that', async () => {
    const pool = newPool({ size: 2 });
    await pool.start();
    const name = uniqueName('refill');
    const runner = new PodRunner({ docker: d, pod: webPod(name), pauseImage: TEST_IMAGES.pause, netnsPool: pool });
    const ready = runner.waitFor((v) => v.ready, { timeoutMs: 30_000 });
    await runner.start();
    // The refill is due at once (refillDelayMs 0); the pod needs its containers started and probed first.
    await until(() => pool.refillsWaiting() === 1, 'the refill to wait for the pod');
    expect(pool.available([8080])).toBe(1);
    await ready;
    await until(() => pool.available([8080]) === 2, 'the refill once the pod is ready');
    await runner.delete({ gracePeriodSeconds: 0 });
  });

  it('a port set nobody asks for any more stops being warmed; the configured one stays', async () => {
    let clock = 0;
    const pool = newPool({ staleMs: 10, now: () => clock });
    await pool.start();
    expect(pool.claim([8080, 8443])).toBeUndefined();
    await until(() => pool.available([8080, 8443]) === 1, 'the new port set to be warmed');
    const waiting = (await holdersOfPlatform()).filter(
      (h) => h.Labels[POOL_OWNER_LABEL] === pool.owner && h.Ports.some((p) => p.PrivatePort === 8443),
    );
    expect(waiting).toHaveLength(1);
    clock = 100; // later than staleMs after the last ask for 8080+8443
    const id = pool.claim([8080])!; // any later claim refills, dropping the stale set
    await until(
      () => pool.available([8080]) === 1 && pool.available([8080, 8443]) === 0,
      'the stale set to be dropped',
    );
    expect(await exists(waiting[0]!.Id)).toBe(false);
    await removeContainer(d, id);
  });

  it('a warm holder that stopped under the pool (engine restart) is not used: the pod makes its own sandbox and serves', async () => {
    const pool = newPool();
    await pool.start();
    const [waiting] = (await holdersOfPlatform()).filter((h) => h.Labels[POOL_OWNER_LABEL] === pool.owner);
    await d.getContainer(waiting!.Id).stop({ t: 1 });
    const name = uniqueName('warm-stopped');
    const runner = new PodRunner({ docker: d, pod: webPod(name), pauseImage: TEST_IMAGES.pause, netnsPool: pool });
    await runner.start();
    await runner.waitFor((v) => v.ready, { timeoutMs: 20_000 });
    expect((await d.getContainer(`${name}_pause`).inspect()).Config.Labels[NETNS_HOLDER_LABEL]).toBeUndefined();
    expect(await exists(waiting!.Id)).toBe(false);
    expect(await (await fetch(`http://${runner.address(8080)}/`)).text()).toBe(`${name}\n`);
    await runner.delete({ gracePeriodSeconds: 2 });
  });

  it('a pod whose start fails after it took a holder removes the holder with the rest of the pod', async () => {
    const pool = newPool();
    await pool.start();
    const name = uniqueName('warm-fail');
    const pod = webPod(name);
    pod.spec.containers[0]!.image = 'sidecar-test-no-such-image:never';
    const runner = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, netnsPool: pool });
    await expect(runner.start()).rejects.toThrow(/no such image/i);
    const holderId = (await d.getContainer(`${name}_pause`).inspect()).Config.Labels[NETNS_HOLDER_LABEL]!;
    await runner.delete({ gracePeriodSeconds: 2 });
    expect(await exists(holderId)).toBe(false);
    expect(await d.listContainers({ all: true, filters: { label: [`${Labels.pod}=${name}`] } })).toEqual([]);
  });

  it('a pod in a holder whose record cannot be made fails to start, and removing it leaves nothing, holder included', async () => {
    const pool = newPool();
    await pool.start();
    const [waiting] = (await holdersOfPlatform()).filter((h) => h.Labels[POOL_OWNER_LABEL] === pool.owner);
    const name = uniqueName('warm-no-record');
    // Something else holds the pause container's name: the record's creation is refused (409).
    const squatter = await d.createContainer({ name: `${name}_pause`, Image: TEST_IMAGES.pause });
    try {
      const runner = new PodRunner({ docker: d, pod: webPod(name), pauseImage: TEST_IMAGES.pause, netnsPool: pool });
      await expect(runner.start()).rejects.toThrow(/already in use|conflict/i);
      // Not removed under the pod's containers, which may have joined it already: it goes with the pod.
      expect(await exists(waiting!.Id)).toBe(true);
      await runner.close();
      // As a worker's next start removes a pod left without its record (PodRunner.removeIncomplete): its
      // containers name the holder.
      await removePodObjects(d, name);
      expect(await d.listContainers({ all: true, filters: { label: [`${Labels.pod}=${name}`] } })).toEqual([]);
      expect(await exists(waiting!.Id)).toBe(false);
    } finally {
      await removeContainer(d, squatter.id);
    }
  });

  it('containers of a pod in a holder share its IPC namespace and, with shareProcessNamespace, its PID namespace', async () => {
    const pool = newPool({ warm: [[]] }); // this pod declares no ports
    await pool.start();
    const name = uniqueName('warm-share');
    pods.push(name);
    const pod = testPod(name, {
      shareProcessNamespace: true,
      containers: [
        {
          name: 'writer',
          image: TEST_IMAGES.base,
          command: ['sh', '-c', 'echo shared > /dev/shm/note && exec sleep 3600'],
        },
        { name: 'reader', image: TEST_IMAGES.base, command: ['sh', '-c', 'exec sleep 3601'] },
      ],
    });
    const runner = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, netnsPool: pool });
    await runner.start();
    await runner.waitFor((v) => v.containerStatuses.every((c) => c.state.running !== undefined), { timeoutMs: 20_000 });
    expect((await d.getContainer(`${name}_pause`).inspect()).Config.Labels[NETNS_HOLDER_LABEL]).toBeDefined();
    const execIn = async (container: string, cmd: string[]) => {
      const e = await d.getContainer(`${name}-${container}`).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const stream = await e.start({});
      const chunks: Buffer[] = [];
      stream.on('data', (b: Buffer) => chunks.push(b));
      await new Promise((r) => stream.on('end', r));
      return Buffer.concat(chunks).toString('utf8');
    };
    await expect.poll(() => execIn('reader', ['cat', '/dev/shm/note']), { timeout: 10_000 }).toContain('shared');
    expect(await execIn('reader', ['ps'])).toContain('sleep 3600'); // the writer's process, seen from the reader
    await runner.delete({ gracePeriodSeconds: 2 });
  });

  it("close() removes the unclaimed holders; start() removes those of a worker that died, never a pod's", async () => {
    const pool = newPool();
    await pool.start();
    const unclaimed = (await holdersOfPlatform())
      .filter((h) => h.Labels[POOL_OWNER_LABEL] === pool.owner)
      .map((h) => h.Id);
    expect(unclaimed.length).toBeGreaterThan(0);
    await pool.close();
    for (const id of unclaimed) expect(await exists(id)).toBe(false);

    // A worker process leaves an unclaimed holder of this platform, one claimed by a pod and one of
    // another platform, then dies. Holders of live processes stay, whatever their platform or state;
    // one whose owner's pid now belongs to another process (pid reuse) does not.
    const worker = await liveProcess();
    const deadOwner = poolOwner('abc123', worker.pid);
    const otherPlatform = uniqueName('netns-other');
    const [leftover, claimedHolder, deadOther] = await Promise.all([
      holder(deadOwner, platformId),
      holder(deadOwner, platformId),
      holder(deadOwner, otherPlatform),
    ]);
    const name = uniqueName('claimed');
    pods.push(name);
    await d.createContainer({
      name: `${name}_pause`,
      Image: TEST_IMAGES.pause,
      Labels: {
        [Labels.managed]: 'true',
        [Labels.pod]: name,
        [Labels.role]: 'pause',
        [NETNS_HOLDER_LABEL]: claimedHolder.id,
      },
    });
    worker.kill();
    await once(worker, 'exit');
    const liveOwner = poolOwner('abc123', process.ppid);
    const [liveOurs, liveOther, stoppedLive, reused] = await Promise.all([
      holder(liveOwner, platformId),
      holder(liveOwner, otherPlatform),
      holder(liveOwner, platformId).then(async (c) => {
        await c.stop({ t: 0 });
        return c;
      }),
      holder(`${hostname()}:${process.ppid}:1:abc123`, platformId),
    ]);

    await newPool({ warm: [] }).start();
    expect(await exists(leftover.id)).toBe(false);
    expect(await exists(deadOther.id)).toBe(false);
    expect(await exists(reused.id)).toBe(false);
    expect(await exists(claimedHolder.id)).toBe(true);
    expect(await exists(liveOurs.id)).toBe(true);
    expect(await exists(liveOther.id)).toBe(true);
    expect(await exists(stoppedLive.id)).toBe(true);
    await cleanupPods(d, [name]);
    expect(await exists(claimedHolder.id)).toBe(false);
    for (const h of [liveOurs, liveOther, stoppedLive]) await removeContainer(d, h.id);
  });

  // The race of issue 15: a holder leaves the pool's memory (the claim) before the pod's pause container
  // names it on the engine. Another pool sweeping in between must not take it.
  it('a claim in flight survives another pool starting up on the same engine, same platform', async () => {
    const pool = newPool();
    await pool.start();
    const claimed = pool.claim([8080])!;
    expect(claimed).toBeDefined();
    await newPool({ warm: [] }).start(); // another worker of this platform sweeps before the pause exists
    expect(await exists(claimed)).toBe(true);
    await removeContainer(d, claimed);
  });

  it("a claim in flight in another live process survives this process's sweep", async () => {
    const worker = await liveProcess();
    try {
      // What the other worker's pool holds: a holder it is claiming right now (no pause names it yet).
      const inFlight = await holder(poolOwner('def456', worker.pid), platformId);
      await newPool({ warm: [] }).start();
      expect(await exists(inFlight.id)).toBe(true);
      await removeContainer(d, inFlight.id);
    } finally {
      worker.kill();
    }
  });

  it('holders have readable names (sidecar-holder-<id>)', async () => {
    const pool = newPool();
    await pool.start();
    const [mine] = (await holdersOfPlatform()).filter((h) => h.Labels[POOL_OWNER_LABEL] === pool.owner);
    expect(mine?.Names).toEqual([expect.stringMatching(/^\/sidecar-holder-[0-9a-f]{12}$/)]);
  });
});
