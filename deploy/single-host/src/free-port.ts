import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port nothing listens on at `host`, picked below the kernel's ephemeral range: a port from that range
 * (what `listen(0)` hands out) can also be the source port of an outgoing connection from `host` — many on
 * the Docker bridge's address, from which the router's HAProxy connects to pods — and a listener can
 * then not bind it (EADDRINUSE). Checked by binding it; random, so parallel callers rarely pick the same.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free port below ${low} on ${host}`);
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
