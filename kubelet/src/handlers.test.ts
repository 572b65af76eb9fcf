import { getEventListeners } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { runAction, type ActionTarget } from './handlers.js';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from './test-support.js';

/**
 * A probe's attempts all share its loop's abort signal (probes.ts): an attempt must leave no
 * listener behind on it, or a probe running every 100 ms piles them up (MaxListenersExceededWarning).
 */
const d = docker();
let container: Docker.Container;

beforeAll(async () => {
  await ensureTestImages(d);
  container = await d.createContainer({
    name: uniqueName('handlers-test'),
    Image: TEST_IMAGES.base,
    Entrypoint: ['sleep', '3600'],
    Labels: { 'sidecar.paas/test': 'true' },
    HostConfig: { NetworkMode: 'none' }, // exec needs no network (and the engine's default bridge may be absent)
  });
  await container.start();
});
afterAll(async () => {
  await container?.remove({ force: true });
});

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('runAction leaves no abort listener behind', () => {
  it('exec: twelve attempts on one signal, passing and failing', async () => {
    const target: ActionTarget = { container, podIp: '127.0.0.1', ports: [] };
    const lifetime = new AbortController();
    for (let i = 0; i < 12; i++) {
      const command = i % 2 === 0 ? ['true'] : ['false'];
      const r = await runAction(target, { exec: { command } }, { timeoutMs: 10_000, signal: lifetime.signal });
      expect(r.ok).toBe(i % 2 === 0);
    }
    expect(abortListeners(lifetime.signal)).toBe(0);
  });

  it('tcpSocket: twelve attempts on one signal, connected and refused', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    try {
      const target = { container, podIp: '127.0.0.1', ports: [] };
      const lifetime = new AbortController();
      for (let i = 0; i < 12; i++) {
        const r = await runAction(
          target,
          { tcpSocket: { port: i % 2 === 0 ? port : closedPort } },
          { timeoutMs: 5000, signal: lifetime.signal },
        );
        expect(r.ok).toBe(i % 2 === 0);
      }
      expect(abortListeners(lifetime.signal)).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('an attempt on an aborted signal ends at once', async () => {
    const target = { container, podIp: '127.0.0.1', ports: [] };
    const aborted = AbortSignal.abort();
    const r = await runAction(target, { exec: { command: ['sleep', '30'] } }, { timeoutMs: 60_000, signal: aborted });
    expect(r.ok).toBe(false);
  });
});
