import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy, waitForDeploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';

// WebSockets through the whole platform: an app's own WebSocket server behind the router, and a
// redeploy during which the open connection stays with the old pod until the app's drain limit.
let p: RunningPlatform;
beforeAll(async () => {
  p = await startPlatform();
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

/**
 * A WebSocket echo server with Node builtins only (RFC 6455: the handshake, and short masked text
 * frames from the client), answering `<version> <message>`; plain HTTP answers the version.
 */
const echoApp = (version: string) =>
  tgzOf({
    'sidecar.json': JSON.stringify({ start: 'node server.js' }),
    'server.js': `
const http = require('http');
const { createHash } = require('crypto');
const server = http.createServer((req, res) => res.end('${version}'));
server.on('upgrade', (req, socket) => {
  const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  socket.on('data', (frame) => {
    if ((frame[0] & 0x0f) !== 1) return socket.end();
    const length = frame[1] & 0x7f;
    const mask = frame.subarray(2, 6);
    const text = Buffer.from(frame.subarray(6, 6 + length).map((b, i) => b ^ mask[i % 4])).toString();
    const reply = Buffer.from('${version} ' + text);
    socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
  });
});
server.listen(process.env.PORT);
`,
  });

const open = (app: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${p.routerPort}/chat`, { headers: { host: `${app}.localhost` } });
    ws.once('open', () => resolve(ws)).once('error', reject);
  });
const ask = (ws: WebSocket, text: string) =>
  new Promise<string>((resolve) => {
    ws.once('message', (m: Buffer) => resolve(m.toString()));
    ws.send(text);
  });

describe('WebSockets through the router', () => {
  it('echoes, and across a redeploy keeps the old connection on the old pod until the drain limit', async () => {
    await createApp(p, 'chat', { http: { drainSeconds: 3 } });
    const v1 = await deploy(p, 'chat', await echoApp('v1'));
    const appLogs = async () => (await p.api$('/api/v1/apps/chat/logs?tail=50')).text();
    expect(v1.deploy.status, `${v1.log}\n${await appLogs()}`).toBe('succeeded');
    const ws = await open('chat');
    expect(await ask(ws, 'hello')).toBe('v1 hello');
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

    const res = await p.api$('/api/v1/apps/chat/deploys', {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: new Uint8Array(await echoApp('v2')),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await eventually('v2 serving', async () => ((await p.get('chat')).body === 'v2' ? true : undefined), 60_000);
    // The new release serves new connections; the open one still talks to v1.
    const fresh = await open('chat');
    expect(await ask(fresh, 'hi')).toBe('v2 hi');
    expect(await ask(ws, 'still there?')).toBe('v1 still there?');
    // The drain limit closes it; then the old pod stops and the rollout ends.
    await closed;
    const v2 = await waitForDeploy(p, 'chat', id);
    expect(v2.deploy.status, v2.log).toBe('succeeded');
    expect(await ask(fresh, 'after')).toBe('v2 after');
    fresh.close();
  }, 120_000);
});
