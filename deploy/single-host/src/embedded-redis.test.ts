import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './free-port.js';

const dataDir = mkdtempSync(join(tmpdir(), 'sidecar-embedded-redis-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Whether something accepts TCP connections on the port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the embedded Redis', () => {
  it('stops when the launcher is killed with SIGKILL (no orphan Redis holding the port and the AOF)', async () => {
    const port = await freePort();
    // A stand-in launcher: starts the embedded Redis as the launcher does, says so, then waits.
    const script = `
      import { startEmbeddedRedis } from ${JSON.stringify(join(import.meta.dirname, '../dist/embedded-redis.js'))};
      const report = { onLines: () => {}, onState: () => {}, onGiveUp: () => {} };
      const { child } = await startEmbeddedRedis({ dataDir: ${JSON.stringify(dataDir)}, port: ${port}, maxMemory: '64mb', report });
      process.stdout.write('ready\\n');
      setInterval(() => {}, 60_000);
    `;
    const launcher = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [first] = (await once(launcher.stdout, 'data')) as [Buffer];
    expect(first.toString()).toContain('ready');
    expect(await listening(port)).toBe(true);

    launcher.kill('SIGKILL');
    await once(launcher, 'exit');
    await until('Redis to stop after its launcher died', async () => !(await listening(port)));
  });
});
