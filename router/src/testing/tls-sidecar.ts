import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../../test/support/global-setup.js';

const program = join(import.meta.dirname, '../../../runtime-image/dist/programs/tls-terminator.js');

/** The real TLS sidecar program (built by `tsc -b`), as a pod runs it, in front of a local upstream. */
export async function startTlsSidecar(opts: {
  cert: string;
  key: string;
  upstreamPort: number;
}): Promise<{ address: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [program], {
    env: {
      ...process.env,
      SIDECAR_TLS_CERT: opts.cert,
      SIDECAR_TLS_KEY: opts.key,
      SIDECAR_TLS_PORT: String(port),
      SIDECAR_TLS_UPSTREAM_PORT: String(opts.upstreamPort),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`tls-terminator exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => l.includes('https on') && resolve());
  });
  return {
    address: `127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
