import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineConnectionLost, waitNotRunning } from './docker-wait.js';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from './test-support.js';

/**
 * `waitNotRunning` against the real engine (a container that exits), and against a fake engine at the
 * HTTP boundary (a unix socket speaking the wait endpoint) for what the real one does only when it
 * restarts: it sends the answer's headers, then the connection ends without the body.
 */
const d = docker();
const dir = mkdtempSync(join(tmpdir(), 'sidecar-fake-engine-'));
const socketPath = join(dir, 'docker.sock');
/** How the fake engine answers the next wait. */
let answer: (res: ServerResponse) => void = () => undefined;
let fake: Server;

beforeAll(async () => {
  await ensureTestImages(d);
  fake = createServer((req, res) => answer(res));
  await new Promise<void>((resolve) => fake.listen(socketPath, resolve));
});
afterAll(async () => {
  fake.closeAllConnections();
  await new Promise((resolve) => fake.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('waitNotRunning', () => {
  it("resolves with a real container's exit code", async () => {
    const c = await d.createContainer({
      name: uniqueName('wait'),
      Image: TEST_IMAGES.base,
      Cmd: ['sh', '-c', 'sleep 1; exit 3'],
    });
    try {
      await c.start();
      expect((await waitNotRunning(d, c.id, new AbortController().signal)).StatusCode).toBe(3);
    } finally {
      await c.remove({ force: true });
    }
  });

  it("rejects with the engine's 404 for a container that does not exist", async () => {
    await expect(waitNotRunning(d, 'no-such-container-here', new AbortController().signal)).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('rejects with EngineConnectionLost when the connection ends after the headers (the engine restarted)', async () => {
    answer = (res) => {
      // As dockerd: the headers at once (the wait is registered), the body only when the container stops.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      setTimeout(() => res.socket?.destroy(), 50);
    };
    const engine = new Docker({ socketPath });
    const error = await waitNotRunning(engine, 'abc123', new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineConnectionLost);
    expect((error as EngineConnectionLost).code).toBe('ENGINE_CONNECTION_LOST');
  });

  it('resolves when the fake engine sends the body, and rejects at once when aborted', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      setTimeout(() => res.end(JSON.stringify({ StatusCode: 137, Error: null })), 50);
    };
    const engine = new Docker({ socketPath });
    expect((await waitNotRunning(engine, 'abc123', new AbortController().signal)).StatusCode).toBe(137);

    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    };
    const control = new AbortController();
    const waiting = waitNotRunning(engine, 'abc123', control.signal).catch((e: unknown) => e);
    setTimeout(() => control.abort(new Error('closed')), 50);
    expect(await waiting).toEqual(new Error('closed'));
  });
});
