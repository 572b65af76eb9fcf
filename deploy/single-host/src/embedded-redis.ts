import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import { Child, type ChildSpec } from './child.js';

/**
 * The embedded Redis of the single-host default: loopback only (app containers
 * cannot reach the host's 127.0.0.1), data under the data dir, AOF on.
 */
export async function startEmbeddedRedis(opts: {
  dataDir: string;
  port: number;
  /** `maxmemory` (e.g. 1gb); at the limit writes fail (noeviction): state is never evicted silently. */
  maxMemory: string;
  /** How its lines and state changes are reported (as for every supervised child). */
  report: Pick<ChildSpec, 'onLines' | 'onState' | 'onGiveUp'>;
}): Promise<{ url: string; child: Child }> {
  const dir = join(opts.dataDir, 'redis');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const child = new Child({
    name: 'redis',
    // Redis cannot watch its parent: the kernel does (parent-death signal, kept across exec), so a
    // launcher that dies, even by SIGKILL, takes Redis with it (SIGTERM: it flushes its AOF and exits)
    // instead of leaving an orphan. No watchdog process (a Node one cost ~40 MiB).
    command: 'setpriv',
    args: [
      '--pdeathsig',
      'TERM',
      '--',
      'redis-server',
      '--bind',
      '127.0.0.1',
      '--port',
      String(opts.port),
      '--dir',
      dir,
      '--protected-mode',
      'yes',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory',
      opts.maxMemory,
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--loglevel',
      'warning',
    ],
    env: process.env,
    // Restarted like the others: on the same port and data dir, it reloads its AOF.
    ...opts.report,
  });
  child.start();
  const url = `redis://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await ping(opts.port);
      return { url, child };
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`embedded redis did not start: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * One PING over a plain connection (Redis reads inline commands): resolves on `+PONG`, rejects on anything
 * else — refused while starting, `-LOADING` while it loads its AOF. Not the platform's Redis client: that
 * (with BullMQ) is ~40 MiB of the launcher's resident memory for one probe at start.
 */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const done = (error?: Error) => {
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(2000, () => done(new Error('no answer to PING within 2 s')));
    socket.once('error', done);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      const end = answer.indexOf('\r\n');
      if (end < 0) return;
      const line = answer.slice(0, end);
      done(line === '+PONG' ? undefined : new Error(line || 'an empty answer'));
    });
  });
}
