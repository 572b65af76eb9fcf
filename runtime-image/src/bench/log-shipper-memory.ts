#!/usr/bin/env node
/**
 * Benchmark: the log shipper's resident memory in a container run as the pod template runs it
 * (its image, uid 2001:1000, read-only root, no capabilities, PLATFORM_SIDECAR_LIMITS.logs, the
 * app-log volume read-only and its state volume), idle and while an app container writes lines as
 * fast as it can (what is sampled: memory-samples.ts). Prints every sample (raw) and then a summary.
 *   node runtime-image/dist/bench/log-shipper-memory.js [lines=200000]
 */
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import Dockerode from 'dockerode';
import { PLATFORM_SIDECAR_LIMITS, PLATFORM_SIDECAR_USERS, parseMemory } from '@sidecar/core';
import { ensurePlatformImages } from '../images/images.js';
import { HARDENING, max, median, sample } from './memory-samples.js';

const docker = new Dockerode();
const id = randomBytes(4).toString('hex');
const names = {
  shipper: `bench-shipper-${id}`,
  writer: `bench-writer-${id}`,
  logs: `bench-logs-${id}`,
  state: `bench-state-${id}`,
};
const lines = Number(process.argv[2] ?? 200_000);

async function main(): Promise<void> {
  const images = await ensurePlatformImages({ docker });
  const { uid, gid } = PLATFORM_SIDECAR_USERS.logs;
  await docker.createVolume({ Name: names.logs });
  await docker.createVolume({ Name: names.state });
  const shipper = await docker.createContainer({
    name: names.shipper,
    Image: images.logShipper,
    User: `${uid}:${gid}`,
    HostConfig: {
      ...HARDENING,
      Memory: parseMemory(PLATFORM_SIDECAR_LIMITS.logs.memory),
      NanoCpus: 100_000_000, // PLATFORM_SIDECAR_LIMITS.logs.cpu, 100m
      Mounts: [
        { Type: 'volume', Source: names.logs, Target: '/var/log/app', ReadOnly: true },
        { Type: 'volume', Source: names.state, Target: '/var/lib/log-shipper' },
      ],
    },
  });
  try {
    await shipper.start();
    const pid = (await shipper.inspect()).State.Pid;
    process.stdout.write(
      `image ${images.logShipper}, limit ${PLATFORM_SIDECAR_LIMITS.logs.memory} / ${PLATFORM_SIDECAR_LIMITS.logs.cpu}, pid ${pid}\n`,
    );
    const idle = [];
    for (let i = 0; i < 5; i++) {
      await sleep(1000);
      idle.push(await sample('idle', pid, shipper));
    }
    // The app's side: uid 1000 appends `lines` lines of ~100 bytes in batches, as fast as it can.
    const script = `const fs=require('node:fs');const l='x'.repeat(90);let b='';for(let i=0;i<${lines};i++){b+=i+' '+l+'\\n';if(b.length>65536){fs.appendFileSync('/var/log/app/app.log',b);b='';}}fs.appendFileSync('/var/log/app/app.log',b);`;
    const writer = await docker.createContainer({
      name: names.writer,
      Image: images.runtimeNode,
      User: '1000:1000',
      Entrypoint: ['node', '-e', script],
      HostConfig: { ...HARDENING, Mounts: [{ Type: 'volume', Source: names.logs, Target: '/var/log/app' }] },
    });
    const started = Date.now();
    await writer.start();
    const busy = [];
    // Until the writer is done and the shipper has saved an offset at the end of the file (every line written to stdout).
    for (;;) {
      await sleep(250);
      busy.push(await sample('busy', pid, shipper));
      const done = (await writer.inspect()).State.Status === 'exited';
      if (done && (await savedOffset(pid)) >= (await logSize(pid))) break;
      if (Date.now() - started > 300_000) throw new Error('the shipper did not catch up within 5 minutes');
    }
    const seconds = (Date.now() - started) / 1000;
    await writer.remove({ force: true });
    process.stdout.write(
      [
        `summary idle: VmRSS median ${median(idle.map((s) => s.rssKiB))} kB, docker stats median ${median(idle.map((s) => s.stats)).toFixed(2)} MiB (n=${idle.length})`,
        `summary busy (${lines} lines appended, all shipped after ${seconds.toFixed(1)} s): VmRSS median ${median(busy.map((s) => s.rssKiB))} kB, max ${max(busy.map((s) => s.rssKiB))} kB; VmHWM ${max(busy.map((s) => s.hwmKiB))} kB; docker stats max ${max(busy.map((s) => s.stats)).toFixed(2)} MiB (n=${busy.length})`,
        '',
      ].join('\n'),
    );
  } finally {
    await shipper.remove({ force: true });
    await docker
      .getContainer(names.writer)
      .remove({ force: true })
      .catch(() => undefined);
    for (const v of [names.logs, names.state])
      await docker
        .getVolume(v)
        .remove()
        .catch(() => undefined);
  }
}

/** The offset the shipper saved for app.log, read through its own root. */
async function savedOffset(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/root/var/lib/log-shipper/offsets.json`, 'utf8').catch(() => '{}');
  return (JSON.parse(text) as Record<string, { offset: number }>)['app.log']?.offset ?? 0;
}

const logSize = async (pid: number) => (await stat(`/proc/${pid}/root/var/log/app/app.log`)).size;

main().catch((err: unknown) => {
  process.stderr.write(
    `log-shipper-memory failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
