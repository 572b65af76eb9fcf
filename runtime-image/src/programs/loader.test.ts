/**
 * The logic sidecar's loader (logic-base/loader.sh) in the logic-base image, as a pod runs it: uid 1000,
 * a fresh named volume at /workspace (the runtime mounts it read-only). Its protocol is what the runtime and the startup probe read:
 * `current` → `releases/<id>` (a whole copy), `.ready` last; a restart republishes, keeping the release a
 * runtime may still read and removing older ones and a killed start's leftovers; then it listens on
 * LOADER_PORT (the startup probe). The bundle here is the image's own /sidecar folder (SIDECAR_BUNDLE),
 * so no logic image has to be built.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { LOADER_PORT } from '@sidecar/core';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePlatformImages } from '../images/images.js';

const docker = new Docker();
const volume = `sidecar-test-loader-${randomBytes(4).toString('hex')}`;
const containers: Docker.Container[] = [];
let image: string;

beforeAll(async () => {
  image = (await ensurePlatformImages({ docker })).logicBase;
  await docker.createVolume({ Name: volume });
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  for (const c of containers) await c.remove({ force: true }).catch(() => undefined);
  await docker
    .getVolume(volume)
    .remove()
    .catch(() => undefined);
});

const mount = { Type: 'volume' as const, Source: volume, Target: '/workspace' };

/** Runs `script` with busybox's sh in the image, the workspace mounted; its output. */
async function shell(script: string): Promise<string> {
  const c = await docker.createContainer({
    Image: image,
    Entrypoint: ['/bin/sh', '-c', script],
    Tty: true,
    HostConfig: { Mounts: [mount] },
  });
  containers.push(c);
  await c.start();
  const { StatusCode } = (await c.wait()) as { StatusCode: number };
  const out = (await c.logs({ stdout: true, stderr: true })).toString().replace(/\r\n/g, '\n');
  if (StatusCode !== 0) throw new Error(`${script} exited ${StatusCode}: ${out}`);
  return out;
}

/** Waits until the container's output has `count` "published" lines; returns them. */
async function published(c: Docker.Container, count: number): Promise<string[]> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const lines = (await c.logs({ stdout: true, stderr: true }))
      .toString()
      .split(/\r?\n/)
      .filter((l) => l.includes('loader: published'));
    if (lines.length >= count) return lines;
  }
  throw new Error(`the loader did not publish ${count} time(s) within 20 s`);
}

/** The workspace as the runtime sees it: where `current` points, the releases, and whether it is ready. */
async function workspace(): Promise<{ current: string; releases: string[]; ready: boolean; entries: string[] }> {
  const out = await shell(
    'readlink /workspace/current; ls -A /workspace | tr "\\n" " "; echo; ls -A /workspace/releases | tr "\\n" " "; echo; ' +
      'test -f /workspace/.ready && echo ready || echo not-ready',
  );
  const [current, entries, releases, ready] = out.split('\n');
  return {
    current: current!,
    entries: entries!.trim().split(' ').sort(),
    releases: releases!.trim().split(' ').sort(),
    ready: ready === 'ready',
  };
}

/** Sockets a test keeps open (a client that never closes its side); destroyed after the tests. */
const held: Socket[] = [];

/**
 * Connects as a client that never closes its side (allowHalfOpen), and waits until the loader has closed
 * the connection; what it sent. Refused connections are tried again (the loader may not listen yet).
 */
async function connectOnce(host: string, port: number): Promise<{ received: number; closedByLoader: boolean }> {
  for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 20))) {
    const result = await new Promise<{ received: number; closedByLoader: boolean } | Error>((resolve) => {
      let received = 0;
      const socket = connect({ host, port, allowHalfOpen: true });
      held.push(socket);
      socket.setTimeout(5_000, () => resolve(new Error('the loader kept the connection open for 5 s')));
      socket.on('data', (b: Buffer) => (received += b.length));
      socket.on('end', () => resolve({ received, closedByLoader: true }));
      socket.on('error', resolve);
    });
    if (!(result instanceof Error)) return result;
    if (!/ECONNREFUSED/.test(result.message) || Date.now() > deadline) throw result;
  }
}

/** The container's address on the default bridge. */
async function addressOf(c: Docker.Container): Promise<string> {
  const ip = Object.values((await c.inspect()).NetworkSettings.Networks)[0]?.IPAddress;
  if (!ip) throw new Error('the container has no address');
  return ip;
}

describe('the logic sidecar loader (logic-base/loader.sh)', () => {
  let loader: Docker.Container;
  const ids: string[] = [];

  it('publishes the bundle whole under releases/<id>, points current at it, and marks .ready last', async () => {
    loader = await docker.createContainer({
      Image: image,
      Env: ['SIDECAR_BUNDLE=/sidecar'],
      HostConfig: { Mounts: [mount] },
    });
    containers.push(loader);
    await loader.start();
    const [line] = await published(loader, 1);
    const id = /as \/workspace\/releases\/(\S+)$/.exec(line!)![1]!;
    ids.push(id);
    const ws = await workspace();
    expect(ws).toMatchObject({ current: `releases/${id}`, releases: [id], ready: true });
    expect(ws.entries).toEqual(['.ready', 'current', 'releases']);
    // The copy is whole and readable through the link, as the runtime reads it.
    expect(await shell('head -1 /workspace/current/loader.sh')).toBe('#!/bin/sh\n');
  });

  it('then listens on its port (the startup probe: a TCP connect), closing each connection at once, again and again', async () => {
    const ip = await addressOf(loader);
    // Each client keeps its side open: none of them keeps the next one out.
    for (let i = 0; i < 3; i++)
      expect(await connectOnce(ip, LOADER_PORT)).toEqual({ received: 0, closedByLoader: true });
  });

  it('ends on SIGTERM with exit code 0, not killed after the grace period (137)', async () => {
    await loader.stop({ t: 10 });
    expect((await loader.inspect()).State.ExitCode).toBe(0);
  });

  it('a restart republishes: the release a runtime may still read stays, older ones and leftovers go', async () => {
    await loader.start();
    const lines = await published(loader, 2);
    ids.push(/releases\/(\S+)$/.exec(lines[1]!)![1]!);
    expect((await workspace()).releases).toEqual([...ids].sort());

    // Starts killed half-way: a copy nothing points at, a link not yet renamed, a copy under a .tmp- name
    // (as earlier loaders made them).
    await loader.stop({ t: 10 });
    await shell(
      'mkdir /workspace/releases/killed-copy /workspace/releases/.tmp-killed && ln -s releases/x /workspace/.current-killed',
    );
    await loader.start();
    const again = await published(loader, 3);
    const newest = /releases\/(\S+)$/.exec(again[2]!)![1]!;
    const ws = await workspace();
    expect(ws.current).toBe(`releases/${newest}`);
    expect(ws.releases).toEqual([ids[1]!, newest].sort()); // the first release is two back now: removed
    expect(ws.entries).toEqual(['.ready', 'current', 'releases']);
    expect(ws.ready).toBe(true);
  });

  it('says so when something else in the pod holds its port, and keeps trying (the probe then never passes)', async () => {
    const holder = await docker.createContainer({
      Image: image,
      Entrypoint: ['nc', '-ll', '-p', String(LOADER_PORT), '-e', 'true'],
    });
    containers.push(holder);
    await holder.start();
    await connectOnce(await addressOf(holder), LOADER_PORT); // it holds the port before the loader starts
    const taken = await docker.createContainer({
      Image: image,
      Env: ['SIDECAR_BUNDLE=/sidecar'],
      HostConfig: { Mounts: [mount], NetworkMode: `container:${holder.id}` },
    });
    containers.push(taken);
    await taken.start();
    await published(taken, 1);
    for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 50))) {
      const out = (await taken.logs({ stdout: true, stderr: true })).toString();
      if (out.includes(`loader: not listening on port ${LOADER_PORT}`)) break;
      if (Date.now() > deadline) throw new Error(`no word of the taken port within 20 s:\n${out}`);
    }
    expect((await taken.inspect()).State.Running).toBe(true);
    await taken.stop({ t: 10 });
    expect((await taken.inspect()).State.ExitCode).toBe(0);
  });
});
