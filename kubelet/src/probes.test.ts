import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type Docker from 'dockerode';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runProbeLoop } from './probes.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A free loopback port, closed again: nothing listens there until the test says so. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('probe early success (a readiness probe until its first success)', () => {
  it('finds the first success long before the next period; its failed early attempts are not reported', async () => {
    const port = await closedPort();
    const failed: string[] = [];
    const results: boolean[] = [];
    const stop = new AbortController();
    const loop = runProbeLoop({
      kind: 'readiness',
      probe: { tcpSocket: { port }, periodSeconds: 30, failureThreshold: 3 },
      // A TCP probe never touches the container: only the pod's IP is used.
      target: { container: {} as Docker.Container, podIp: '127.0.0.1', ports: [] },
      startedAtMs: Date.now(),
      signal: stop.signal,
      warmupMs: 20,
      onFailedAttempt: (m) => failed.push(m),
      onResult: (ok) => results.push(ok),
    });
    // The app begins to listen once the first (regular, reported) attempt has failed.
    await vi.waitFor(() => expect(failed).toHaveLength(1), { timeout: 5000 });
    const server = net.createServer((socket) => socket.destroy());
    servers.push(server);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    // Well within the 30 s period: only an early attempt can have seen it.
    await vi.waitFor(() => expect(results).toEqual([true]), { timeout: 10_000 });
    stop.abort();
    await loop;
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/ECONNREFUSED/);
  });
});
