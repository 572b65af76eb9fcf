#!/usr/bin/env node
/**
 * Benchmark: the TLS sidecar's resident memory in a container run as the pod template runs it (its
 * image, uid 2002, read-only root, no capabilities, PLATFORM_SIDECAR_LIMITS.tls, the certificate and
 * key as read-only files at TLS_SECRET.mountPath, the env of the pod template), in the network
 * namespace of an app container, idle and while this process sends it HTTPS requests as fast as it
 * can: keep-alive GETs, GETs on a new connection each (a full TLS handshake), and 1 MiB uploads,
 * each at a fixed concurrency. What is sampled: memory-samples.ts. Prints every sample (raw), then
 * a summary.
 *   node runtime-image/dist/bench/tls-sidecar-memory.js [keepAlive=20000] [handshakes=2000] [uploads=200] [concurrency=64]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import {
  PLATFORM_SIDECAR_LIMITS,
  PLATFORM_SIDECAR_USERS,
  TLS_ENV,
  TLS_PORT,
  TLS_SECRET,
  parseMemory,
} from '@sidecar/core';
import { ensurePlatformImages } from '../images/images.js';
import { HARDENING, max, median, sample, type MemorySample } from './memory-samples.js';

const docker = new Dockerode();
const id = randomBytes(4).toString('hex');
const names = { app: `bench-tls-app-${id}`, tls: `bench-tls-${id}` };
const [keepAlive = 20_000, handshakes = 2_000, uploads = 200, concurrency = 64] = process.argv.slice(2).map(Number);
const APP =
  "require('http').createServer((q,s)=>{let n=0;q.on('data',c=>n+=c.length);q.on('end',()=>s.end('ok '+n))}).listen(8080)";

/** A self-signed certificate and key, as files of a folder laid out like the secret volume. */
async function material(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-tls-'));
  const subj = '/CN=bench.localhost';
  const keyFile = join(dir, TLS_SECRET.keyFile);
  const certFile = join(dir, TLS_SECRET.certFile);
  await promisify(execFile)('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
    ...['-subj', subj, '-keyout', keyFile, '-out', certFile],
  ]);
  for (const f of [keyFile, certFile]) await chmod(f, TLS_SECRET.mode);
  await chmod(dir, 0o755);
  return dir;
}

/** Runs `total` requests, `concurrency` at a time; resolves with how many answered 200. */
async function load(total: number, one: () => Promise<number>): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      if ((await one().catch(() => 0)) === 200) ok++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ok;
}

function get(port: number, agent: https.Agent | false, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method: body ? 'POST' : 'GET', path: '/', agent, rejectUnauthorized: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const images = await ensurePlatformImages({ docker });
  const dir = await material();
  const { uid, gid } = PLATFORM_SIDECAR_USERS.tls;
  const { memory, cpu } = PLATFORM_SIDECAR_LIMITS.tls;
  // The app's container owns the network namespace (the pause container's role in a pod) and publishes 8443.
  const app = await docker.createContainer({
    name: names.app,
    Image: images.runtimeNode,
    User: '1000:1000',
    Entrypoint: ['node', '-e', APP],
    ExposedPorts: { [`${TLS_PORT}/tcp`]: {} },
    HostConfig: { ...HARDENING, PortBindings: { [`${TLS_PORT}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  try {
    await app.start();
    const tls = await docker.createContainer({
      name: names.tls,
      Image: images.tlsTerminator,
      User: `${uid}:${gid}`,
      Env: [
        `${TLS_ENV.certFile}=${TLS_SECRET.mountPath}/${TLS_SECRET.certFile}`,
        `${TLS_ENV.keyFile}=${TLS_SECRET.mountPath}/${TLS_SECRET.keyFile}`,
        `${TLS_ENV.listenPort}=${TLS_PORT}`,
      ],
      HostConfig: {
        ...HARDENING,
        NetworkMode: `container:${names.app}`,
        Memory: parseMemory(memory),
        NanoCpus: Math.round(parseFloat(cpu) * 1e6), // `200m` → 0.2 CPU
        Mounts: [{ Type: 'bind', Source: dir, Target: TLS_SECRET.mountPath, ReadOnly: true }],
      },
    });
    await tls.start();
    const pid = (await tls.inspect()).State.Pid;
    const port = Number((await app.inspect()).NetworkSettings.Ports[`${TLS_PORT}/tcp`]![0]!.HostPort);
    for (let i = 0; (await get(port, false).catch(() => 0)) !== 200; i++) {
      if (i > 100) throw new Error(`the TLS sidecar did not answer: ${await logs(tls)}`);
      await sleep(100);
    }
    process.stdout.write(`image ${images.tlsTerminator}, limit ${memory} / ${cpu}, pid ${pid}\n`);
    const phase = async (label: string, seconds: number) => {
      const out: MemorySample[] = [];
      for (let i = 0; i < seconds; i++) {
        await sleep(1000);
        out.push(await sample(label, pid, tls));
      }
      return out;
    };
    const idle = await phase('idle', 5);

    let running = true;
    const busy: MemorySample[] = [];
    const sampling = (async () => {
      while (running) {
        await sleep(250);
        busy.push(await sample('busy', pid, tls));
      }
    })();
    const started = Date.now();
    const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency });
    const okKeepAlive = await load(keepAlive, () => get(port, agent));
    agent.destroy();
    const okHandshakes = await load(handshakes, () => get(port, false));
    const upload = Buffer.alloc(2 ** 20, 'x');
    const uploadAgent = new https.Agent({ keepAlive: true, maxSockets: concurrency });
    const okUploads = await load(uploads, () => get(port, uploadAgent, upload));
    uploadAgent.destroy();
    const seconds = (Date.now() - started) / 1000;
    running = false;
    await sampling;
    const after = await phase('after', 5);

    const line = (label: string, xs: MemorySample[]) =>
      `summary ${label}: VmRSS median ${median(xs.map((s) => s.rssKiB))} kB, max ${max(xs.map((s) => s.rssKiB))} kB; ` +
      `RssAnon median ${median(xs.map((s) => s.anonKiB))} kB, max ${max(xs.map((s) => s.anonKiB))} kB; ` +
      `RssFile median ${median(xs.map((s) => s.fileKiB))} kB; VmHWM ${max(xs.map((s) => s.hwmKiB))} kB; ` +
      `docker stats median ${median(xs.map((s) => s.stats)).toFixed(2)} MiB, max ${max(xs.map((s) => s.stats)).toFixed(2)} MiB (n=${xs.length})`;
    process.stdout.write(
      [
        line('idle', idle),
        `load: ${okKeepAlive}/${keepAlive} keep-alive GETs, ${okHandshakes}/${handshakes} GETs on new connections, ` +
          `${okUploads}/${uploads} 1 MiB uploads answered 200, ${concurrency} at a time, in ${seconds.toFixed(1)} s`,
        line('busy', busy),
        line('after', after),
        '',
      ].join('\n'),
    );
  } finally {
    for (const n of [names.tls, names.app])
      await docker
        .getContainer(n)
        .remove({ force: true })
        .catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function logs(c: Dockerode.Container): Promise<string> {
  return (await c.logs({ stdout: true, stderr: true, follow: false })).toString();
}

main().catch((err: unknown) => {
  process.stderr.write(
    `tls-sidecar-memory failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
