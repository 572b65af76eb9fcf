/**
 * The compiled log shipper prints exactly what Node printed: its output, byte for byte, against
 * the reference rules written with Buffer.toString('utf8') and JSON.stringify
 * (test-support/log-shipper-oracle.ts), on lines built from the awkward cases: invalid and
 * truncated UTF-8, encoded surrogates, control characters, lines over 8 KiB, JSON over 15 KiB
 * cut inside a surrogate pair, odd file names.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encode, splitAll } from '../test-support/log-shipper-oracle.js';
import {
  removeDirs,
  shipperBinary,
  shipperDirs,
  startShipper,
  type ShipperDirs,
} from '../test-support/log-shipper-process.js';

let dirs: ShipperDirs;
beforeAll(async () => {
  await shipperBinary();
}, 120_000);
beforeEach(async () => {
  dirs = await shipperDirs();
});
afterEach(async () => {
  await removeDirs(dirs);
});

const TS = 'T'.repeat(24); // the length of an ISO time: the cut rule counts it
const TS_TAIL = /"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}$/;

/** Byte sequences that each test one rule of the decoder or of the escaping. */
const PIECES: number[][] = [
  [0x41],
  [0x20],
  [0x22],
  [0x5c],
  [0x2f],
  [0x7f],
  [0x0d],
  [0x0a],
  [0x0d, 0x0a],
  [0x00],
  [0x01],
  [0x08],
  [0x09],
  [0x0c],
  [0x1b],
  [0x1f],
  [0xc3, 0xa9],
  [0xe2, 0x82, 0xac],
  [0xe2, 0x80, 0xa8],
  [0xef, 0xbb, 0xbf],
  [0xf0, 0x9f, 0x98, 0x80],
  [0xf4, 0x8f, 0xbf, 0xbf],
  [0x80],
  [0xbf],
  [0xc0],
  [0xc1, 0xbf],
  [0xc2],
  [0xc3],
  [0xe2, 0x82],
  [0xf0, 0x9f],
  [0xf0, 0x9f, 0x98],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xe0, 0x9f, 0xbf],
  [0xf0, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80],
  [0xf8],
  [0xfe],
  [0xff],
];

/** A seeded generator, so a failure can be run again as it was. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(a: readonly T[]) => a[Math.floor(next() * a.length)]!;
  return { next, pick };
}

/** Lines of pieces, some with long runs (over 8 KiB, or escaping past 15 KiB of JSON). */
function fuzzContent(seed: number, size: number): Buffer {
  const r = random(seed);
  const bytes: number[] = [];
  while (bytes.length < size) {
    const piece = r.pick(PIECES);
    const run = r.next() < 0.03 ? Math.floor(r.next() * 3000) : 1;
    for (let i = 0; i < run; i++) bytes.push(...piece);
  }
  return Buffer.from(bytes);
}

/** Runs the shipper over the files until its last read on SIGTERM; its lines grouped by file, as raw bytes. */
async function shipAll(): Promise<Map<string, Buffer[]>> {
  const s = await startShipper(dirs);
  expect(await s.stop()).toEqual({ code: 0, signal: null });
  const byFile = new Map<string, Buffer[]>();
  const out = s.stdout();
  for (let start = 0; start < out.length;) {
    const end = out.indexOf(0x0a, start);
    const line = out.subarray(start, end);
    const file = (JSON.parse(line.toString('utf8')) as { file: string }).file;
    byFile.set(file, [...(byFile.get(file) ?? []), line]);
    start = end + 1;
  }
  return byFile;
}

/** Each shipped line equals the reference's, the time aside (checked for its form). */
function expectAsNode(file: string, content: Buffer, shipped: Buffer[] | undefined): string[] {
  const want = splitAll(content).map((line) => encode({ file, line, ts: TS }).slice(0, -1));
  expect(shipped?.length ?? 0, file).toBe(want.length);
  want.forEach((w, i) => {
    const got = shipped![i]!.toString('utf8');
    expect(got, `${file} line ${i}`).toMatch(TS_TAIL);
    const body = shipped![i]!.subarray(0, shipped![i]!.length - 26);
    expect(body.equals(Buffer.from(w.slice(0, -26))), `${file} line ${i}: ${got.slice(0, 200)}`).toBe(true);
  });
  return want;
}

describe('the JSON the shipper prints', () => {
  it('escapes and decodes every awkward case as JSON.stringify and Buffer.toString do', async () => {
    const content = Buffer.concat(PIECES.map((p) => Buffer.from([0x3c, ...p, 0x3e, 0x0a])));
    await writeFile(join(dirs.logs, 'cases.log'), content);
    const want = expectAsNode('cases.log', content, (await shipAll()).get('cases.log'));
    // What some cases come to: an escaped control character, U+FFFD per maximal ill-formed subpart.
    const lines = want.map((w) => (JSON.parse(w) as { line: string }).line);
    expect(lines).toEqual(expect.arrayContaining(['<\u0000>', '<\ufffd\ufffd\ufffd>', '<\ufffd>', '<\u{1F600}>']));
  });

  it('matches Node on seeded random lines, including cuts of over-long lines and of over-long JSON', async () => {
    const files: Record<string, Buffer> = {};
    for (let seed = 1; seed <= 6; seed++) files[`fuzz-${seed}.log`] = fuzzContent(seed, 60_000);
    // Escapes make this JSON too long; the cut (in UTF-16 units) ends between the halves of a 😀.
    files['surrogate-cut.log'] = Buffer.from(`${'\u0001\u0001\u{1F600}'.repeat(1101)}\n`);
    for (const [name, content] of Object.entries(files)) await writeFile(join(dirs.logs, name), content);
    const shipped = await shipAll();
    const all = Object.entries(files).flatMap(([name, content]) => expectAsNode(name, content, shipped.get(name)));
    // The seeds reach every rule: pieces of over-long lines, the "…" cut, a cut inside a surrogate pair.
    expect(all.some((l) => l.includes('…"'))).toBe(true);
    expect(all.some((l) => /\\ud83d…"/.test(l))).toBe(true);
    expect(all.some((l) => l.includes('\ufffd'))).toBe(true);
  }, 60_000);

  it('names files as JSON strings, and follows no file whose name is not UTF-8 (Node could not open it)', async () => {
    const names = [
      'quote".log',
      'back\\slash.log',
      'tab\tand\nnewline.log',
      'ctl\u0001.log',
      '\u2028.log',
      '\u{1F600}.log',
    ];
    for (const n of names) await writeFile(join(dirs.logs, n), `in ${n}\n`);
    await writeFile(Buffer.from(join(dirs.logs, 'bad-\xff.log'), 'latin1'), 'never shipped\n');
    const shipped = await shipAll();
    expect([...shipped.keys()].sort()).toEqual([...names].sort());
    for (const n of names) expectAsNode(n, Buffer.from(`in ${n}\n`), shipped.get(n));
  });
});
