/** The compiled log shipper as a child process on a temporary log directory, for tests without Docker. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staticBinary } from '../images/static-binary.js';

const SOURCE_DIR = fileURLToPath(new URL('../../log-shipper', import.meta.url));

/** The binary the image ships, compiled from runtime-image/log-shipper/ (or found in the cache). */
export const shipperBinary = () => staticBinary({ sourceDir: SOURCE_DIR, name: 'log-shipper' });

export interface ShippedLine {
  file: string;
  line: string;
  ts: string;
}

export interface ShipperDirs {
  root: string;
  logs: string;
  state: string;
}

export async function shipperDirs(): Promise<ShipperDirs> {
  const root = await mkdtemp(join(tmpdir(), 'log-shipper-test-'));
  const dirs = { root, logs: join(root, 'logs'), state: join(root, 'state') };
  await mkdir(dirs.logs);
  return dirs;
}

export const removeDirs = (d: ShipperDirs) => rm(d.root, { recursive: true, force: true });

export interface Shipper {
  child: ChildProcess;
  /** Everything it printed on stdout so far, as bytes. */
  stdout(): Buffer;
  stderr(): string;
  lines(): ShippedLine[];
  /** Resolves once `check` holds for the lines shipped so far; rejects if the shipper exits first. */
  until(what: string, check: (lines: ShippedLine[]) => boolean): Promise<ShippedLine[]>;
  /** Sends the signal and resolves with how it exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  offsets(): Promise<Record<string, { ino: number; offset: number }>>;
}

/** Starts the shipper and waits for its start message (it has loaded its offsets by then). */
export async function startShipper(dirs: ShipperDirs, env: Record<string, string> = {}): Promise<Shipper> {
  const child = spawn(await shipperBinary(), [], {
    env: {
      PATH: process.env.PATH ?? '',
      SIDECAR_LOGS_DIR: dirs.logs,
      SIDECAR_LOGS_STATE_DIR: dirs.state,
      SIDECAR_LOGS_POLL_MS: '20',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const parsed: ShippedLine[] = [];
  // Parsed as they arrive, complete lines only: a pipe can hand over part of one.
  let partial = Buffer.alloc(0);
  const take = (d: Buffer) => {
    out.push(d);
    const all = Buffer.concat([partial, d]);
    const end = all.lastIndexOf(0x0a) + 1;
    for (const l of all.subarray(0, end).toString('utf8').split('\n'))
      if (l !== '') parsed.push(JSON.parse(l) as ShippedLine);
    partial = all.subarray(end);
  };
  let err = '';
  const waiters = new Set<() => void>();
  const notify = () => [...waiters].forEach((w) => w());
  child.stdout.on('data', (d: Buffer) => {
    take(d);
    notify();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    notify();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      done = true;
      notify();
      resolve({ code, signal });
    }),
  );
  const stdout = () => Buffer.concat(out);
  const lines = () => [...parsed];
  const wait = (what: string, holds: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (holds()) {
          waiters.delete(check);
          resolve();
        } else if (done) {
          waiters.delete(check);
          reject(new Error(`the shipper exited before ${what}; stderr: ${err}`));
        }
      };
      waiters.add(check);
      check();
    });
  await wait('its start message', () => err.includes('log-shipper: following '));
  return {
    child,
    stdout,
    stderr: () => err,
    lines,
    until: async (what, check) => {
      await wait(what, () => check(lines()));
      return lines();
    },
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
    exited,
    offsets: async () =>
      JSON.parse(await readFile(join(dirs.state, 'offsets.json'), 'utf8')) as Record<
        string,
        { ino: number; offset: number }
      >,
  };
}

/** `file: line` of each shipped line, the form most assertions read best in. */
export const texts = (lines: ShippedLine[]) => lines.map((l) => `${l.file}: ${l.line}`);
