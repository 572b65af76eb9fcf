import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { request, until } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';

// Another tenant's app created (or deleted, or its settings changed) reloads HAProxy. The worker it
// replaces keeps the connections it has: an app's WebSockets go on, and a pod's drain still ends at
// its app's drainSeconds, on whichever worker holds its connections.
let t: TestRouter;
beforeAll(async () => {
  t = await startTestRouter(inject('redisUrl'), { SIDECAR_ROUTER_OLD_WORKERS_MAX: '2' });
});
afterAll(() => t.close());

/** An upstream that echoes WebSocket messages prefixed with its name. */
async function wsPod(name: string) {
  const up = await t.upstream((_q, res) => res.end(name), name);
  new WebSocketServer({ server: up.server }).on('connection', (ws) => ws.on('message', (m) => ws.send(`${name} ${m}`)));
  return up;
}

async function openSocket(app: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${t.port}/`, { headers: { host: `${app}.localhost` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const errors: Error[] = [];
  ws.on('error', (e) => errors.push(e));
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  const ask = (text: string) => {
    const reply = new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
    ws.send(text);
    return reply;
  };
  return { ws, errors, closed, ask };
}

describe("another tenant's reload", () => {
  it('leaves an open WebSocket working; only the configured number of replaced workers is kept', async () => {
    await t.route('chat', [await wsPod('chat-pod')]);
    await until(async () => (await request(t.port, 'chat.localhost')).body === 'chat-pod', 'chat to be routed');
    const socket = await openSocket('chat');
    expect(await socket.ask('hello')).toBe('chat-pod hello');

    await t.createApp('other-tenant-1');
    expect(await socket.ask('after one reload')).toBe('chat-pod after one reload');
    await t.createApp('other-tenant-2');
    expect(await socket.ask('after two')).toBe('chat-pod after two');
    expect((await t.router.haproxy.workers.backends()).filter((w) => !w.current)).toHaveLength(1);

    // SIDECAR_ROUTER_OLD_WORKERS_MAX=2: a worker that outlived more reloads than that is stopped.
    let closedAt: number | undefined;
    void socket.closed.then(() => (closedAt = Date.now()));
    await t.createApp('other-tenant-3');
    await socket.closed;
    expect(closedAt).toBeDefined();
    await until(async () => (await t.router.haproxy.workers.backends()).length === 1, 'the stopped worker to be gone');
  });

  it("ends a pod's drain at its app's limit though the old worker holds its WebSocket, and reports it until then", async () => {
    await t.route('drained', [await wsPod('leaving-pod')]);
    await t.settings('drained', { drainSeconds: 3 });
    await until(async () => (await request(t.port, 'drained.localhost')).body === 'leaving-pod', 'drained routed');
    const socket = await openSocket('drained');
    expect(await socket.ask('hi')).toBe('leaving-pod hi');
    await t.createApp('other-tenant-4');

    // A redeploy of the app: its new pod in, the old one out.
    const fresh = await wsPod('fresh-pod');
    await t.route('drained', [fresh]);
    expect((await request(t.port, 'drained.localhost')).body).toBe('fresh-pod');
    expect(await socket.ask('still there?')).toBe('leaving-pod still there?');
    expect(await t.stores.routes.routersDraining()).toContain('leaving-pod');

    // The drain limit ends it on the old worker too; then no router reports the pod.
    await socket.closed;
    await t.stores.routes.waitForDrain(['leaving-pod'], 10_000);
    expect(await t.stores.routes.routersDraining()).not.toContain('leaving-pod');
    expect(socket.errors).toEqual([]);
  });

  it('keeps a drain that began before it: the pod stays reported until its limit ends the connection', async () => {
    await t.route('redeployed', [await wsPod('first-pod')]);
    await t.settings('redeployed', { drainSeconds: 3 });
    await until(async () => (await request(t.port, 'redeployed.localhost')).body === 'first-pod', 'routed');
    const socket = await openSocket('redeployed');
    await t.route('redeployed', [await wsPod('second-pod')]);
    expect(await t.stores.routes.routersDraining()).toContain('first-pod');

    await t.createApp('other-tenant-5');
    expect(await socket.ask('across the reload?')).toBe('first-pod across the reload?');
    expect(await t.stores.routes.routersDraining()).toContain('first-pod');

    await socket.closed;
    await t.stores.routes.waitForDrain(['first-pod'], 10_000);
    expect(socket.errors).toEqual([]);
  });
});
