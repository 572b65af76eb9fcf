import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, normalizeTime, readLines, shippedEntry } from './log-lines.js';

const collect = async (chunks: string[]) => {
  const s = new PassThrough();
  const lines: string[] = [];
  const done = readLines(s, (l) => lines.push(l));
  for (const c of chunks) s.write(c);
  s.end();
  await done;
  return lines;
};

describe('readLines', () => {
  it('joins lines split across chunks and strips CR', async () => {
    expect(await collect(['a', 'b\nc\r', '\n', 'last'])).toEqual(['ab', 'c', 'last']);
  });

  it('cuts an endless line at the limit and skips its rest up to the next newline', async () => {
    const long = 'x'.repeat(MAX_LINE_BYTES * 3);
    const lines = await collect([long.slice(0, 10_000), long.slice(10_000), '\nnext\n']);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toHaveLength(MAX_LINE_BYTES + 1);
    expect(lines[0]!.endsWith('…')).toBe(true);
    expect(lines[1]).toBe('next');
  });
});

describe('normalizeTime', () => {
  it('pads the fraction so times compare as strings', () => {
    expect(normalizeTime('2026-11-27T17:00:01.5Z')).toBe('2026-11-27T17:00:01.500000000Z');
    expect(normalizeTime('2026-11-27T17:00:01Z')).toBe('2026-11-27T17:00:01.000000000Z');
    expect(normalizeTime('2026-11-27T17:00:01.5Z') > normalizeTime('2026-11-27T17:00:01.123456789Z')).toBe(true);
  });
});

describe('shippedEntry', () => {
  const meta = { pod: 'hello-v2-abcde', container: 'logs', release: '2' };
  const dockerTime = '2026-11-27T19:00:01.000000000Z';

  it("stores a line the shipper read from a file as the runtime's, with the file and the time it was read", () => {
    expect(
      shippedEntry(meta, dockerTime, '{"file":"app.log","line":"GET / 200","ts":"2026-11-27T19:00:00.250Z"}'),
    ).toEqual({
      pod: 'hello-v2-abcde',
      container: 'runtime',
      release: '2',
      time: '2026-11-27T19:00:00.250000000Z',
      stream: 'file',
      file: 'app.log',
      line: 'GET / 200',
    });
  });

  it("keeps anything else as the shipper's own output", () => {
    expect(shippedEntry(meta, dockerTime, 'not json')).toEqual({
      ...meta,
      time: dockerTime,
      stream: 'stdout',
      line: 'not json',
    });
    expect(shippedEntry(meta, dockerTime, '{"line":"no file"}')).toMatchObject({ container: 'logs', stream: 'stdout' });
    expect(shippedEntry(meta, dockerTime, '{"file":"a","line":"bad time","ts":"soon"}')).toMatchObject({
      container: 'runtime',
      time: dockerTime,
    });
  });
});
