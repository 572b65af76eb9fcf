import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

import { freePort } from '../../deploy/single-host/src/free-port.js';

export { freePort };

let redis: ChildProcess | undefined;
let dir: string | undefined;

/** Starts a real, throwaway redis-server for the whole run; tests isolate by key prefix. */
export async function setup(project: TestProject): Promise<void> {
  const port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'sidecar-test-redis-'));
  // As the launcher does: if this test run is killed, the kernel stops Redis with it (parent-death signal).
  redis = spawn(
    'setpriv',
    [
      '--pdeathsig',
      'TERM',
      '--',
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    redis!.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    redis!.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
  });
  project.provide('redisUrl', `redis://127.0.0.1:${port}`);
}

export async function teardown(): Promise<void> {
  if (redis && redis.exitCode === null) {
    const exited = new Promise((r) => redis!.once('exit', r));
    redis.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}
