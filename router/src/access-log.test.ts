import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AccessLine, createAccessLogListener, parseAccessLine, scanAccessLine } from './access-log.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const line = (i: number) =>
  JSON.stringify({ time: i, app: 'shop', pod: 'shop-v1-a', method: 'GET', path: `/ünï/${i}`, status: 200 });

describe("the access-log listener (HAProxy's ring → the router)", () => {
  it('gets every line once, in order and whole, however the bytes are cut; junk is printed but not counted', async () => {
    const records: AccessLine[] = [];
    const printed: Buffer[] = [];
    const server = createAccessLogListener((bytes, rs) => {
      printed.push(Buffer.from(bytes));
      records.push(...rs);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    // 20,000 lines in writes of odd sizes: lines and multi-byte characters are cut anywhere.
    const all = Buffer.from(
      Array.from({ length: 20_000 }, (_, i) => (i === 7 ? 'not json\n' : `${line(i)}\n`)).join(''),
    );
    for (let at = 0; at < all.length; at += 777) socket.write(all.subarray(at, at + 777));
    await vi.waitFor(() => expect(records.length).toBe(19_999), { timeout: 20_000 });
    socket.end();
    expect(records.map((r) => r.time)).toEqual(Array.from({ length: 20_000 }, (_, i) => i).filter((i) => i !== 7));
    expect(parseAccessLine(records[7]!.line)?.path).toBe('/ünï/8');
    expect(Buffer.concat(printed).equals(all)).toBe(true);
  });
});

describe('reading what the metrics count of a line', () => {
  // As HAProxy writes them (render-config.ts LOG_FORMAT): the client's path and request id are JSON strings.
  const haproxyLine = (path: string, requestId: string, status = 200) =>
    `{"level":30,"time":1765000000123,"name":"router","msg":"access","app":"shop","pod":"shop-v1-a","method":"GET",` +
    `"path":${JSON.stringify(path)},"status":${status},"durationMs":7,"bytesIn":120,"bytesOut":4567,` +
    `"requestId":${JSON.stringify(requestId)},"client":"10.0.0.9","term":"--"}`;

  it('reads the same fields as parsing the line whole, whatever the client put in its path and request id', () => {
    const hostile = [
      '/plain',
      '/","status":999,"durationMs":-1,"app":"other","x":"',
      '/\\"status\\":1',
      '/"app":"evil"',
      '/ünï/"time":0}',
      '/\u0000\n',
    ];
    for (const path of hostile)
      // -1: HAProxy's status when the client went away before an answer.
      for (const status of [-1, 101, 404, 503]) {
        const line = haproxyLine(path, `${path}-id`, status);
        const full = parseAccessLine(line)!;
        expect(scanAccessLine(line)).toEqual({
          time: full.time,
          app: full.app,
          status: full.status,
          durationMs: full.durationMs,
          bytesIn: full.bytesIn,
          bytesOut: full.bytesOut,
          line,
        });
        expect(scanAccessLine(line)?.status).toBe(status);
      }
  });

  it('skips lines that are no app request (an unknown host) or not JSON; other key orders are parsed whole', () => {
    // HAProxy prints the unset app of an unknown host as `-`.
    expect(scanAccessLine(haproxyLine('/', 'r').replace('"app":"shop"', '"app":"-"'))).toBeUndefined();
    expect(parseAccessLine(haproxyLine('/', 'r').replace('"app":"shop"', '"app":"-"'))).toBeUndefined();
    expect(scanAccessLine(haproxyLine('/', 'r').replace('"app":"shop"', '"app":""'))).toBeUndefined();
    // A line cut short is not counted (HAProxy's lines are whole: render-config.ts LOG_LINE_MAX).
    expect(scanAccessLine(haproxyLine('/', 'r').slice(0, 150))).toBeUndefined();
    expect(scanAccessLine('not json')).toBeUndefined();
    expect(scanAccessLine('{"status":"200","app":"shop","time":1}')).toBeUndefined();
    const reordered = '{"bytesOut":5,"bytesIn":4,"durationMs":3,"status":201,"app":"shop","time":1}';
    expect(scanAccessLine(reordered)).toMatchObject({
      app: 'shop',
      status: 201,
      durationMs: 3,
      bytesIn: 4,
      bytesOut: 5,
    });
  });
});
