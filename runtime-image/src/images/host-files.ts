/**
 * What the offline images take from the host: the static busybox, the node and HAProxy
 * binaries with the shared libraries their dynamic loader needs, npm, the CA bundle.
 */
import { execFile } from 'node:child_process';
import { readdir, readlink, stat } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { promisify } from 'node:util';
import type { ContextEntry } from './build-context.js';
import { mapLimited } from './map-limited.js';

const run = promisify(execFile);

/** `bin/busybox` plus a `bin/<applet>` symlink per applet, so `sh`, `test`, `cp` … resolve on PATH. */
export async function busyboxEntries(busyboxPath: string, prefix = 'rootfs'): Promise<ContextEntry[]> {
  const { stdout } = await run(busyboxPath, ['--list']);
  const applets = stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox');
  return [
    { type: 'host-file', name: `${prefix}/bin/busybox`, hostPath: busyboxPath, mode: 0o755 },
    ...applets.map((a): ContextEntry => ({ type: 'symlink', name: `${prefix}/bin/${a}`, target: 'busybox' })),
  ];
}

/**
 * Throws unless the busybox has `nc` with a persistent listener (`-ll … -e PROG`): the logic-base loader
 * listens with it once the logic is in place, and its releases' startup probe connects to it. A busybox
 * built without it would make a logic base whose every pod fails that probe.
 */
export async function requireListeningNc(busyboxPath: string): Promise<void> {
  const help = await run(busyboxPath, ['nc', '--help']).then(
    ({ stdout, stderr }) => `${stdout}${stderr}`,
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
  // `-ll` in Debian's help; builds "compatible with nc 1.10" show `-lk`, and take `-ll` all the same.
  if (!/-l[lk]\b/.test(help) || !help.includes('-e PROG'))
    throw new Error(
      `${busyboxPath} has no nc with a persistent listener (-ll ... -e PROG), which the logic sidecar's loader listens with`,
    );
}

/**
 * Absolute paths of the libraries `ldd` lists for a binary, including the
 * dynamic loader itself (the line without "=>"); the vDSO has no file.
 */
export function parseLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) paths.push(m[1]);
  }
  return [...new Set(paths)];
}

/**
 * A dynamically linked host binary at `imagePath` and its libraries at the same absolute paths as on
 * the host, so the image needs nothing else to run it (the node base, the TLS sidecar's HAProxy).
 */
export async function binaryEntries(o: {
  hostPath: string;
  imagePath: string;
  prefix?: string;
}): Promise<ContextEntry[]> {
  const prefix = o.prefix ?? 'rootfs';
  const { stdout } = await run('ldd', [o.hostPath]);
  const libs = parseLdd(stdout);
  if (libs.length === 0)
    throw new Error(`ldd found no libraries for ${o.hostPath}; is it a dynamically linked binary?`);
  return [
    { type: 'host-file', name: `${prefix}${o.imagePath}`, hostPath: o.hostPath, mode: 0o755 },
    // createReadStream follows the host's symlinks (libstdc++.so.6 → .so.6.0.30): the image gets real files.
    ...libs.map((lib): ContextEntry => ({ type: 'host-file', name: `${prefix}${lib}`, hostPath: lib, mode: 0o755 })),
  ];
}

/** The node binary at /usr/bin/node and its libraries. */
export const nodeEntries = (nodePath: string, prefix = 'rootfs') =>
  binaryEntries({ hostPath: nodePath, imagePath: '/usr/bin/node', prefix });

/** Every file, directory and symlink under a host directory, placed under `prefix`. */
export async function treeEntries(hostDir: string, prefix: string): Promise<ContextEntry[]> {
  const dirents = await readdir(hostDir, { recursive: true, withFileTypes: true });
  const entries = await mapLimited(dirents, 32, async (d): Promise<ContextEntry | undefined> => {
    const hostPath = join(d.parentPath, d.name);
    const name = posix.join(prefix, relative(hostDir, hostPath).split('\\').join('/'));
    if (d.isDirectory()) return { type: 'directory', name };
    if (d.isSymbolicLink()) return { type: 'symlink', name, target: await readlink(hostPath) };
    if (d.isFile()) return { type: 'host-file', name, hostPath, mode: (await stat(hostPath)).mode & 0o777 };
    return undefined; // sockets, fifos: nothing an image needs
  });
  return [{ type: 'directory', name: prefix }, ...entries.filter((e): e is ContextEntry => e !== undefined)];
}

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

export const GROUP = ['root:x:0:', 'app:x:1000:', 'nogroup:x:65534:', ''].join('\n');
