import { mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A port nothing listens on at `host`, picked below the kernel's ephemeral range: a port from that range
 * (what `listen(0)` hands out) can also be the source port of an outgoing connection from `host` — many on
 * the Docker bridge's address, from which the router's HAProxy connects to pods — and a listener can
 * then not bind it (EADDRINUSE). Checked by binding it; random.
 *
 * A port is free when it is checked but is bound only later, by another process (a platform's API binds
 * its port seconds after the launcher was given it): two processes picking ports at the same time could
 * both be handed the same one, and the second to bind would fail (seen once in a test run: a platform's
 * API in a crash loop on EADDRINUSE). So each port handed out is also reserved, for as long as the process
 * that took it lives, by a file named after it in a directory every process on the machine shares; a port
 * reserved by a live process is not handed out again.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if ((await canListen(port, host)) && reserve(port)) return port;
  }
  throw new Error(`no free port below ${low} on ${host}`);
}

/** Shared by every process of the machine's user; one file per reserved port, holding the reserving pid. */
const RESERVATIONS = join(tmpdir(), 'sidecar-free-ports');
/** A reservation older than this is void even if its pid lives (pids are reused). */
const RESERVATION_MS = 60 * 60_000;

/** Reserves `port` for this process; false when a live process holds it. Pure bookkeeping: binds nothing. */
export function reserve(port: number, dir = RESERVATIONS): boolean {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      if (held(file)) return false;
      try {
        unlinkSync(file); // void: its process is gone, or it is too old
      } catch {
        // another process removed it first; try again
      }
    }
  }
  return false;
}

function held(file: string): boolean {
  try {
    const age = Date.now() - statSync(file).mtimeMs;
    const pid = Number(readFileSync(file, 'utf8'));
    // No pid yet: its process created the file and is about to write into it.
    if (!Number.isInteger(pid) || pid <= 0) return age < 5_000;
    if (age > RESERVATION_MS) return false;
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the pid lives under another user. Anything else (ESRCH, the file gone): not held.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The first port of the kernel's ephemeral range (32768 on Linux by default). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}
