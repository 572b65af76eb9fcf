import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessLogFile } from './access-log-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'access-log-file-'));
  dirs.push(d);
  return d;
};
const batch = (from: number, n: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => `{"msg":"access","n":${from + i}}\n`).join(''));

describe("the router's access log file", () => {
  it('appends every batch in order, readable by its owner only, and after a restart goes on at the end', () => {
    const path = join(tempDir(), 'access.log');
    const warnings: string[] = [];
    const first = new AccessLogFile({ path, maxBytes: 1 << 20, warn: (m) => warnings.push(m) });
    first.write(batch(0, 3));
    first.write(batch(3, 2));
    first.close();
    const again = new AccessLogFile({ path, maxBytes: 1 << 20, warn: (m) => warnings.push(m) });
    again.write(batch(5, 1));
    again.close();
    expect(readFileSync(path, 'utf8')).toBe(batch(0, 6).toString());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(warnings).toEqual([]);
  });

  it('past its size becomes access.log.1 (replacing the older one), and no line is split between the two', () => {
    const path = join(tempDir(), 'access.log');
    const log = new AccessLogFile({ path, maxBytes: 200, warn: () => undefined });
    for (let i = 0; i < 30; i++) log.write(batch(i * 2, 2));
    log.close();
    const current = readFileSync(path, 'utf8');
    const previous = readFileSync(`${path}.1`, 'utf8');
    expect(Buffer.byteLength(current)).toBeLessThanOrEqual(200);
    expect(Buffer.byteLength(previous)).toBeLessThanOrEqual(200);
    // The newest lines, without a gap or a cut line between the two files.
    const numbers = (previous + current)
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { n: number }).n);
    expect(numbers.at(-1)).toBe(59);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => 60 - numbers.length + i));
  });

  it('a write that fails loses those lines only, warns once, and writing resumes once it can', () => {
    const path = join(tempDir(), 'access.log');
    const warnings: string[] = [];
    const log = new AccessLogFile({ path, maxBytes: 1 << 20, warn: (m) => warnings.push(m) });
    // A directory where the file should be: every open fails (EISDIR), for root as for anyone.
    mkdirSync(path);
    expect(() => log.write(batch(0, 2))).not.toThrow();
    expect(() => log.write(batch(2, 1))).not.toThrow();
    rmdirSync(path);
    log.write(batch(3, 2));
    log.close();
    expect(readFileSync(path, 'utf8')).toBe(batch(3, 2).toString());
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/cannot write .*EISDIR.*lines are lost/);
    expect(warnings[1]).toMatch(/writing again \(3 lines of it were lost\)/);
  });
});
