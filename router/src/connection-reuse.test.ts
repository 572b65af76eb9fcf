import http from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { request, until } from './testing/clients.js';
import { startTestRouter, type TestRouter } from './testing/harness.js';

// Keep-alive to the pods, for pods in the first configuration and for pods added at run time (a
// deploy's new pod joins through HAProxy's runtime API, whose servers have other defaults).
let t: TestRouter;
/** The connections each upstream took requests on. */
const seen = new Map<string, Set<Socket>>();

async function upstream(name: string) {
  seen.set(name, new Set());
  return t.upstream((req, res) => {
    seen.get(name)!.add(req.socket);
    res.end(name);
  }, `reuse-${name}`);
}

beforeAll(async () => {
  t = await startTestRouter(inject('redisUrl'));
});
afterAll(async () => {
  await t.close();
});

/** 20 requests one after the other on one client connection; the pod's connections they came on. */
async function sequentialOnOneConnection(app: string, pod: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  seen.get(pod)!.clear();
  try {
    for (let i = 0; i < 20; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get(
            { host: '127.0.0.1', port: t.port, path: `/${i}`, agent, headers: { host: `${app}.localhost` } },
            (res) => {
              let b = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (b += c));
              res.on('end', () => resolve(b));
            },
          )
          .on('error', reject);
      });
      expect(body).toBe(pod);
    }
  } finally {
    agent.destroy();
  }
  return seen.get(pod)!.size;
}

describe('connections to pods', () => {
  it('are kept alive and reused, for a pod of the first configuration and for one added at run time', async () => {
    const first = await upstream('first');
    await t.route('reuse', [first]);
    await until(async () => (await request(t.port, 'reuse.localhost')).body === 'first', 'the first pod to serve');
    // The session's own connection, or one of the pool: never one per request.
    expect(await sequentialOnOneConnection('reuse', 'first')).toBeLessThanOrEqual(2);

    // A new pod replaces it as a deploy does: added through the runtime API, the old one drained.
    const second = await upstream('second');
    await t.route('reuse', [second]);
    await until(async () => (await request(t.port, 'reuse.localhost')).body === 'second', 'the new pod to serve');
    expect(await sequentialOnOneConnection('reuse', 'second')).toBeLessThanOrEqual(2);
  });
});
