import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AccessRecord, createAccessLogListener } from './access-log.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

const line = (i: number) =>
  JSON.stringify({ time: i, app: 'shop', pod: 'shop-v1-a', method: 'GET', path: `/ünï/${i}`, status: 200 });

describe("the access-log listener (HAProxy's ring → the router)", () => {
  it('gets every line once, in order and whole, however the bytes are cut; junk is printed but not counted', async () => {
    const records: AccessRecord[] = [];
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
    expect(records[7]!.path).toBe('/ünï/8');
    expect(Buffer.concat(printed).equals(all)).toBe(true);
  });
});
