import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
  // As in a pod: the certificate and key are files (a secret volume there), never env values.
  const dir = await mkdtemp(join(tmpdir(), 'tls-sidecar-'));
  await writeFile(join(dir, 'tls.crt'), opts.cert);
  await writeFile(join(dir, 'tls.key'), opts.key, { mode: 0o600 });
  const child: ChildProcess = spawn(process.execPath, [program], {
    env: {
      ...process.env,
      SIDECAR_TLS_CERT_FILE: join(dir, 'tls.crt'),
      SIDECAR_TLS_KEY_FILE: join(dir, 'tls.key'),
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
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
