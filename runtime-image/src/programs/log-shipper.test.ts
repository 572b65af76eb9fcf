/**
 * The log shipper (runtime-image/log-shipper/*.c) as the pod runs it: the compiled static binary,
 * spawned on a temporary log directory, its stdout read as the node's log agent reads it.
 */
import { stat as fsStat } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  removeDirs,
  shipperBinary,
  shipperDirs,
  startShipper,
  texts,
  type Shipper,
  type ShipperDirs,
} from '../test-support/log-shipper-process.js';

let dirs: ShipperDirs;
const running: Shipper[] = [];
const start = async (env?: Record<string, string>) => {
  const s = await startShipper(dirs, env);
  running.push(s);
  return s;
};
const log = (name: string) => join(dirs.logs, name);

beforeAll(async () => {
  await shipperBinary(); // compiled once, before the first test's clock starts
}, 120_000);
beforeEach(async () => {
  dirs = await shipperDirs();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
  await removeDirs(dirs);
});

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('the log shipper', () => {
  it('ships the lines of a new file with its name relative to the log directory and the time it read them', async () => {
    const s = await start();
    const before = Date.now();
    await writeFile(log('app.log'), 'one\ntwo\r\n');
    const lines = await s.until('two lines', (l) => l.length === 2);
    const after = Date.now();
    expect(texts(lines)).toEqual(['app.log: one', 'app.log: two']);
    for (const { ts } of lines) {
      expect(ts).toMatch(ISO_MS);
      expect(new Date(ts).toISOString()).toBe(ts);
      expect(Date.parse(ts)).toBeGreaterThanOrEqual(before - 1); // ms precision
      expect(Date.parse(ts)).toBeLessThanOrEqual(after);
    }
    // Exactly the JSON the agent parses: these keys, this order, one object per line.
    expect(s.stdout().toString()).toBe(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    expect(await s.stop()).toEqual({ code: 0, signal: null });
    expect(texts(s.lines())).toEqual(['app.log: one', 'app.log: two']);
    expect(s.stderr().split('\n').filter(Boolean)).toEqual([
      `log-shipper: following ${dirs.logs}, offsets in ${join(dirs.state, 'offsets.json')}`,
    ]);
  });

  it('holds back a line until its newline arrives, then ships it once', async () => {
    const s = await start();
    await writeFile(log('app.log'), 'first\nhalf');
    await s.until('the first line', (l) => l.length === 1);
    // Shipped up to the newline: the saved offset is past "first\n" only.
    await waitForOffsets(s, (o) => 'app.log' in o);
    expect((await s.offsets())['app.log']?.offset).toBe(6);
    await appendFile(log('app.log'), ' and the rest\nnext\n');
    await s.until('the rest', (l) => l.length === 3);
    expect(await s.stop()).toEqual({ code: 0, signal: null });
    expect(texts(s.lines())).toEqual(['app.log: first', 'app.log: half and the rest', 'app.log: next']);
  });

  it('ships a last line without newline on SIGTERM, and on SIGINT, then exits 0', async () => {
    await writeFile(log('app.log'), 'shipped\nbye, no newline\r');
    const s = await start();
    await s.until('the complete line', (l) => l.length === 1);
    expect(await s.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(texts(s.lines())).toEqual(['app.log: shipped', 'app.log: bye, no newline']);
    expect((await s.offsets())['app.log']?.offset).toBe(24);

    await appendFile(log('app.log'), '\nafter a restart, no newline');
    const again = await start();
    expect(await again.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(texts(again.lines())).toEqual(['app.log: ', 'app.log: after a restart, no newline']);
  });

  it('reads a truncated file again from its start', async () => {
    const s = await start();
    await writeFile(log('app.log'), 'old line one\nold line two\n');
    await s.until('the old lines', (l) => l.length === 2);
    await writeFile(log('app.log'), 'after truncation\n'); // O_TRUNC, then shorter than what was shipped
    await s.until('the new line', (l) => l.length === 3);
    await s.stop();
    expect(texts(s.lines())).toEqual(['app.log: old line one', 'app.log: old line two', 'app.log: after truncation']);
  });

  it('finishes a rotated (renamed) file under its new name and reads the new file from its start', async () => {
    const s = await start();
    await writeFile(log('app.log'), 'a\n');
    await s.until('a', (l) => l.length === 1);
    await rename(log('app.log'), log('app.log.1'));
    await appendFile(log('app.log.1'), 'b, written after rotation\n');
    await writeFile(log('app.log'), 'c\n');
    await s.until('b and c', (l) => l.length === 3);
    await s.stop();
    expect(texts(s.lines()).sort()).toEqual(
      ['app.log: a', 'app.log: c', 'app.log.1: b, written after rotation'].sort(),
    );
  });

  it('resumes from its saved offsets after a restart, across a rotation and a truncation made while it was down', async () => {
    const first = await start();
    await writeFile(log('app.log'), 'shipped before the restart\npartial');
    await writeFile(log('other.log'), 'x1\nx2\n');
    await first.until('the complete lines', (l) => l.length === 3);
    const expected = {
      'app.log': { ino: await ino(log('app.log')), offset: 27 },
      'other.log': { ino: await ino(log('other.log')), offset: 6 },
    };
    // Offsets are saved just after their lines were written out: killed before that, it would ship them again.
    await waitForOffsets(first, (o) => isDeepStrictEqual(o, expected));
    await first.stop('SIGKILL'); // no last read: the partial line stays unshipped
    const saved = await first.offsets();
    expect(saved).toEqual(expected);
    expect(await readFile(join(dirs.state, 'offsets.json'), 'utf8')).toBe(JSON.stringify(saved));

    await appendFile(log('app.log'), ' line\nwritten just before rotation\n');
    await rename(log('app.log'), log('app.log.1'));
    await writeFile(log('app.log'), 'new file\n');
    await writeFile(log('other.log'), 'y\n'); // truncated and rewritten, shorter than before
    const restarted = await start();
    await restarted.until('what was written while it was down', (l) => l.length === 4);
    await restarted.stop();
    expect(texts(restarted.lines())).toEqual([
      'app.log: new file',
      'app.log.1: partial line',
      'app.log.1: written just before rotation',
      'other.log: y',
    ]);
  });

  it('warns about unreadable offsets and starts over', async () => {
    await mkdir(dirs.state);
    await writeFile(join(dirs.state, 'offsets.json'), '{"app.log": {"ino": 1, "off');
    await writeFile(log('app.log'), 'from the start\n');
    const s = await start();
    await s.until('the line', (l) => l.length === 1);
    await s.stop();
    expect(s.stderr()).toMatch(/^log-shipper: ignoring unreadable .*offsets\.json: /);
    expect(texts(s.lines())).toEqual(['app.log: from the start']);
  });

  it('drops deleted files from its offsets', async () => {
    const s = await start();
    await writeFile(log('a.log'), 'a\n');
    await writeFile(log('b.log'), 'b\n');
    await s.until('both', (l) => l.length === 2);
    await rm(log('a.log'));
    await waitForOffsets(s, (o) => !('a.log' in o) && 'b.log' in o);
    await s.stop();
  });

  it('follows files in subdirectories up to 4 levels deep, but not symlinks', async () => {
    await mkdir(log('jobs/a/b/c'), { recursive: true });
    await writeFile(log('jobs/nightly.log'), 'ran\n');
    await writeFile(log('jobs/a/b/deepest.log'), 'level 4\n');
    await writeFile(log('jobs/a/b/c/too-deep.log'), 'level 5\n');
    const outside = join(tmpdir(), `outside-${process.pid}.log`);
    await writeFile(outside, 'secret\n');
    await symlink(outside, log('link.log'));
    await symlink(join(dirs.logs, 'jobs'), log('linked-dir'));
    const s = await start();
    await s.stop();
    await rm(outside);
    expect(texts(s.lines())).toEqual(['jobs/a/b/deepest.log: level 4', 'jobs/nightly.log: ran']);
  });

  it('follows at most 256 files, the first by name, and says so once', async () => {
    for (let i = 0; i < 300; i++) await writeFile(log(`f${String(i).padStart(3, '0')}.log`), `line ${i}\n`);
    const s = await start();
    await s.until('256 files', (l) => l.length === 256);
    await s.stop();
    expect(s.lines().map((l) => l.file)).toEqual(
      Array.from({ length: 256 }, (_, i) => `f${String(i).padStart(3, '0')}.log`),
    );
    expect(s.stderr().match(/more than 256 files; following the first 256 by name/g)).toHaveLength(1);
  });

  it('sorts names as JavaScript strings (by UTF-16 code unit) and escapes them as JSON', async () => {
    const names = ['\u{1F600}.log', '\uFF21.log', 'a"b\\c.log', 'B.log', 'é.log', '10', '9'];
    for (const n of names) await writeFile(log(n), `${n}\n`);
    const s = await start();
    await s.stop();
    expect(s.lines().map((l) => l.file)).toEqual([...names].sort());
    expect(s.lines().map((l) => l.line)).toEqual([...names].sort());
  });

  it('reads at most 1 MiB per pass and starts the next pass at the following file, so a busy file starves no other', async () => {
    const line = 'x'.repeat(99); // 100 bytes with its newline
    await writeFile(log('a.log'), `${line}\n`.repeat(15_000)); // 1.5 MB
    await writeFile(log('b.log'), 'b1\n');
    const s = await start();
    await s.until('every line', (l) => l.length === 15_001);
    await s.stop();
    const files = s.lines().map((l) => l.file);
    // The first pass ran out of budget within a.log after 10 485 whole lines; the next began with b.log.
    expect(files.indexOf('b.log')).toBe(Math.floor((1024 * 1024) / 100));
  });

  it('ships a line over 8 KiB in pieces cut at character boundaries, dropping no byte', async () => {
    const long = 'é'.repeat(5000); // 10 000 bytes
    await writeFile(log('app.log'), `${long}\nshort\n`);
    const s = await start();
    await s.stop();
    expect(s.lines().map((l) => l.line)).toEqual(['é'.repeat(4096), 'é'.repeat(904), 'short']);
  });

  it('blocks when its stdout is full and loses nothing once the reader catches up', async () => {
    const s = await start();
    s.child.stdout!.pause();
    const n = 20_000;
    await writeFile(log('app.log'), Array.from({ length: n }, (_, i) => `line ${i}\n`).join(''));
    // Blocked in write(2) on the full pipe: the offsets it saved do not claim the unwritten lines.
    await waitFor('blocked writing', async () =>
      (await readFile(`/proc/${s.child.pid}/syscall`, 'utf8')).startsWith('1 '),
    );
    const saved = await s.offsets().catch(() => ({}) as Record<string, { offset: number }>);
    expect(saved['app.log']?.offset ?? 0).toBeLessThan((await readFile(log('app.log'))).length);
    s.child.stdout!.resume();
    await s.until('every line', (l) => l.length === n);
    await s.stop();
    expect(s.lines().map((l) => l.line)).toEqual(Array.from({ length: n }, (_, i) => `line ${i}`));
  });
});

const ino = (path: string) =>
  new Promise<number>((resolve, reject) => fsStat(path, (e, st) => (e ? reject(e) : resolve(st.ino))));

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const waitForOffsets = (s: Shipper, holds: (o: Record<string, unknown>) => boolean) =>
  waitFor('the offsets', async () => holds(await s.offsets()));
