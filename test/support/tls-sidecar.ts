/**
 * The TLS sidecar as a pod runs it, without Docker: the host's HAProxy (the binary its image
 * copies) with the image's configuration (runtime-image/tls-terminator/), in front of a local upstream.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './global-setup.js';
import { eventually } from './pods.js';

/** The image's configuration (runtime-image/src/images/contexts.ts copies it to /etc/tls-terminator/). */
export const TLS_SIDECAR_CONFIG_FILE = fileURLToPath(
  new URL('../../runtime-image/tls-terminator/haproxy.cfg', import.meta.url),
);
const HAPROXY = '/usr/sbin/haproxy';

export interface TlsSidecar {
  /** `127.0.0.1:<port>` of its HTTPS listener. */
  address: string;
  port: number;
  pid: number;
  /** What it printed on stderr so far. */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal (default SIGUSR1, the image's STOPSIGNAL) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

/** Starts it with the certificate and key as files (a secret volume in a pod), and waits until it listens. */
export async function startTlsSidecar(opts: {
  cert: string;
  key: string;
  upstreamPort: number;
  env?: Record<string, string>;
}): Promise<TlsSidecar> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'tls-sidecar-'));
  await writeFile(join(dir, 'tls.crt'), opts.cert);
  await writeFile(join(dir, 'tls.key'), opts.key, { mode: 0o600 });
  const child = spawn(HAPROXY, ['-db', '-f', TLS_SIDECAR_CONFIG_FILE], {
    env: {
      SIDECAR_TLS_CERT_FILE: join(dir, 'tls.crt'),
      SIDECAR_TLS_KEY_FILE: join(dir, 'tls.key'),
      SIDECAR_TLS_PORT: String(port),
      SIDECAR_TLS_UPSTREAM_PORT: String(opts.upstreamPort),
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  void exited.then(() => rm(dir, { recursive: true, force: true }));
  let done = false;
  void exited.then(() => (done = true));
  await eventually(
    'the TLS sidecar to listen',
    async () => {
      if (done) return `exited: ${err}`;
      return (await accepts(port)) ? 'listening' : undefined;
    },
    10_000,
  ).then((state) => {
    if (state !== 'listening') throw new Error(`haproxy ${state}`);
  });
  return {
    address: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    stderr: () => err,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGUSR1') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
