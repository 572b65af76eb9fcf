import { appendFile, mkdir, mkdtemp, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encode, LogFollower, MAX_JSON_CHARS, splitLines } from './follower.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'log-follower-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const now = () => new Date('2026-11-27T19:00:00.000Z');
const follower = (o: Partial<ConstructorParameters<typeof LogFollower>[0]> = {}) => new LogFollower({ dir, now, ...o });
const texts = async (f: LogFollower, final = false) =>
  (await f.scan({ final })).lines.map((l) => `${l.file}: ${l.line}`);

describe('LogFollower', () => {
  it('ships the lines of a new file, with its name relative to the log directory and the time it read them', async () => {
    const f = follower();
    expect(await texts(f)).toEqual([]);
    await writeFile(join(dir, 'app.log'), 'one\ntwo\r\n');
    expect((await f.scan()).lines).toEqual([
      { file: 'app.log', line: 'one', ts: '2026-11-27T19:00:00.000Z' },
      { file: 'app.log', line: 'two', ts: '2026-11-27T19:00:00.000Z' },
    ]);
    expect(await texts(f)).toEqual([]);
  });

  it('holds back a line until its newline arrives, then ships it once', async () => {
    const f = follower();
    await writeFile(join(dir, 'app.log'), 'first\nhalf');
    expect(await texts(f)).toEqual(['app.log: first']);
    expect(await texts(f)).toEqual([]);
    await appendFile(join(dir, 'app.log'), ' and the rest\nnext\n');
    expect(await texts(f)).toEqual(['app.log: half and the rest', 'app.log: next']);
  });

  it('ships a last line without newline on the final scan', async () => {
    const f = follower();
    await writeFile(join(dir, 'app.log'), 'bye, no newline');
    expect(await texts(f)).toEqual([]);
    expect(await texts(f, true)).toEqual(['app.log: bye, no newline']);
    expect(await texts(f, true)).toEqual([]);
  });

  it('reads a truncated file again from its start', async () => {
    const f = follower();
    await writeFile(join(dir, 'app.log'), 'old line one\nold line two\n');
    expect(await texts(f)).toHaveLength(2);
    await truncate(join(dir, 'app.log'), 0);
    await appendFile(join(dir, 'app.log'), 'after truncation\n');
    expect(await texts(f)).toEqual(['app.log: after truncation']);
  });

  it('follows a rotated (renamed) file under its new name and a new file under the old one', async () => {
    const f = follower();
    await writeFile(join(dir, 'app.log'), 'a\n');
    expect(await texts(f)).toEqual(['app.log: a']);
    await appendFile(join(dir, 'app.log'), 'b, written just before rotation\n');
    await rename(join(dir, 'app.log'), join(dir, 'app.log.1'));
    await writeFile(join(dir, 'app.log'), 'c\n');
    expect(await texts(f)).toEqual(['app.log: c', 'app.log.1: b, written just before rotation']);
  });

  it('resumes from saved offsets: a restarted shipper ships only what is new', async () => {
    const first = follower();
    await writeFile(join(dir, 'app.log'), 'shipped before the restart\npartial');
    expect(await texts(first)).toEqual(['app.log: shipped before the restart']);
    const saved = JSON.parse(JSON.stringify(first.offsets())) as ReturnType<LogFollower['offsets']>;
    await appendFile(join(dir, 'app.log'), ' line\nwritten while it was down\n');
    const restarted = follower({ offsets: saved });
    expect(await texts(restarted)).toEqual(['app.log: partial line', 'app.log: written while it was down']);
  });

  it('follows files in subdirectories but not symlinks', async () => {
    await mkdir(join(dir, 'jobs'));
    await writeFile(join(dir, 'jobs', 'nightly.log'), 'ran\n');
    await writeFile(join(tmpdir(), `outside-${process.pid}.log`), 'secret\n');
    await symlink(join(tmpdir(), `outside-${process.pid}.log`), join(dir, 'link.log'));
    const f = follower();
    expect(await texts(f)).toEqual(['jobs/nightly.log: ran']);
    await rm(join(tmpdir(), `outside-${process.pid}.log`));
  });

  it("bounds one scan's read and says there is more", async () => {
    const f = follower({ limits: { maxReadBytes: 10 } });
    await writeFile(join(dir, 'app.log'), '12345\n67890\nabcde\n');
    const first = await f.scan();
    expect(first.lines.map((l) => l.line)).toEqual(['12345']);
    expect(first.more).toBe(true);
    expect((await f.scan()).lines.map((l) => l.line)).toEqual(['67890']);
  });

  it('starts the next scan where the budget ran out, so a busy file does not starve the others', async () => {
    const f = follower({ limits: { maxReadBytes: 12 } });
    await writeFile(join(dir, 'a.log'), 'a1\na2\na3\na4\na5\na6\n');
    await writeFile(join(dir, 'b.log'), 'b1\n');
    expect(await texts(f)).toEqual(['a.log: a1', 'a.log: a2', 'a.log: a3', 'a.log: a4']);
    await appendFile(join(dir, 'a.log'), 'a7\na8\na9\n');
    // a.log still has more than the budget, yet b.log is read first in the next scan.
    expect(await texts(f)).toEqual(['b.log: b1', 'a.log: a5', 'a.log: a6', 'a.log: a7']);
    expect(await texts(f)).toEqual(['a.log: a8', 'a.log: a9']);
  });
});

describe('splitLines', () => {
  it('cuts an over-long line into pieces at character boundaries, dropping nothing', () => {
    const { lines, consumed } = splitLines(Buffer.from('ééé\nx'), 3, false);
    expect(lines).toEqual(['é', 'é', 'é']);
    expect(consumed).toBe(7);
  });
});

describe('encode', () => {
  it("prints one JSON object per line, cut so that escaped control characters still fit the agent's line limit", () => {
    expect(encode({ file: 'a.log', line: 'say "hi"', ts: 't' })).toBe(
      '{"file":"a.log","line":"say \\"hi\\"","ts":"t"}\n',
    );
    const long = encode({ file: 'a.log', line: '\u0001'.repeat(8 * 1024), ts: 't' });
    expect(long.length).toBeLessThanOrEqual(MAX_JSON_CHARS + 1);
    expect((JSON.parse(long) as { line: string }).line.endsWith('…')).toBe(true);
  });
});
