import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import { startContainer } from './engine-connection.js';
import { statusOf } from './pod-sandbox.js';

/**
 * A FAKE engine socket that stops as dockerd does: its listener closes first (the socket file goes),
 * while the connections it has are still served. The host's real engine must never be stopped; the
 * real dockerd's stop is test/chaos/engine-restart.test.ts's.
 */
class StoppingEngine {
  readonly socket: string;
  /** Requests served: method and path. */
  readonly served: string[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'sidecar-engine-connection-'));
  private readonly listener: Server;
  private readonly connections = new Set<Socket>();
  private readonly http = createHttpServer((req, res) => {
    this.served.push(`${req.method} ${req.url}`);
    if (req.url === '/_ping') res.end('OK');
    else res.writeHead(204).end();
  });

  private constructor() {
    this.socket = join(this.dir, 'docker.sock');
    this.listener = createServer((c) => {
      this.connections.add(c.once('close', () => this.connections.delete(c)));
      this.http.emit('connection', c);
    });
  }

  static async start(): Promise<StoppingEngine> {
    const engine = new StoppingEngine();
    await new Promise<void>((resolve) => engine.listener.listen(engine.socket, resolve));
    return engine;
  }

  /**
   * What dockerd does first when told to stop: no new connection (the socket file goes at once), the
   * open ones still answered. (The listener's close event would wait for those connections to end.)
   */
  closeListener(): void {
    this.listener.close();
  }

  close(): void {
    for (const c of this.connections) c.destroy();
    this.listener.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let engine: StoppingEngine | undefined;
afterEach(() => engine?.close());

describe('startContainer', () => {
  it('the fake stops as dockerd does: a kept-alive connection is still served, so a plain start would land', async () => {
    engine = await StoppingEngine.start();
    const docker = new Docker({ socketPath: engine.socket }); // Node's default agent keeps connections alive
    await docker.ping();
    engine.closeListener();
    await docker.getContainer('pause').start();
    expect(engine.served).toEqual(['GET /_ping', 'POST /containers/pause/start']);
  });

  it('starts nothing on an engine that has begun to stop: refused as an engine that is away is', async () => {
    engine = await StoppingEngine.start();
    const docker = new Docker({ socketPath: engine.socket });
    await startContainer(docker, 'pause');
    engine.closeListener();
    const refused = await startContainer(docker, 'pause').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ENOENT' });
    expect(statusOf(refused)).toBeUndefined();
    expect(engine.served).toEqual(['GET /_ping', 'POST /containers/pause/start']);
  });
});
