import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, reserve } from './free-port.js';

const dir = mkdtempSync(join(tmpdir(), 'free-port-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('port reservations', () => {
  it('a port reserved by a live process is not reserved again', () => {
    expect(reserve(20_001, dir)).toBe(true);
    expect(reserve(20_001, dir)).toBe(false);
  });

  it("a dead process's reservation is void", () => {
    writeFileSync(join(dir, '20002'), '4194303'); // above any pid_max: no such process
    expect(reserve(20_002, dir)).toBe(true);
  });

  it('a reservation being written (no pid yet) is held', () => {
    writeFileSync(join(dir, '20003'), '');
    expect(reserve(20_003, dir)).toBe(false);
  });
});

describe('freePort', () => {
  it('hands out ports one can listen on, never the same one twice to this process', async () => {
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(new Set(ports).size).toBe(50);
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(ports[0], '127.0.0.1', resolve));
    await new Promise((resolve) => srv.close(resolve));
  });
});
