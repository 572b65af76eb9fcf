import { lstat, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { DEFAULT_BUNDLE_LIMITS, DomainError, type BundleLimits } from '@sidecar/core';
import { extractBundle } from './extract.js';
import { tarBuffer, type TarEntry } from './test-support/tar.js';

// Real archives, crafted byte for byte with the same libraries users' tools are compatible with.

interface ZipEntry {
  name: string;
  content?: string | Buffer;
  mode?: number;
  dir?: boolean;
}
async function zipBuffer(entries: ZipEntry[]): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const e of entries) {
    if (e.dir) z.addEmptyDirectory(e.name);
    else z.addBuffer(Buffer.from(e.content ?? ''), e.name, e.mode !== undefined ? { mode: e.mode } : {});
  }
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-extract-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function extract(archive: Buffer, limits: Partial<BundleLimits> = {}) {
  const source = join(dir, 'upload');
  await writeFile(source, archive);
  return extractBundle({ source, dest: join(dir, 'out'), limits: { ...DEFAULT_BUNDLE_LIMITS, ...limits } });
}

async function rejection(p: Promise<unknown>): Promise<DomainError> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

const app: TarEntry[] = [
  { name: 'index.js', content: 'module.exports = () => {}\n' },
  { name: 'lib/', type: 'directory', mode: 0o700 },
  { name: 'lib/util.js', content: 'exports.x = 1\n', mode: 0o4777 },
  { name: 'bin/run', content: '#!/bin/sh\n', mode: 0o700 },
];
const wrapped = (prefix: string, entries: TarEntry[]): TarEntry[] => [
  { name: `${prefix}/`, type: 'directory' },
  ...entries.map((e) => ({ ...e, name: `${prefix}/${e.name}` })),
];

describe('extractBundle: good archives', () => {
  it('unpacks a tar.gz with our own modes (0755 dirs, 0644 files, 0755 executables, never setuid)', async () => {
    const result = await extract(gzipSync(await tarBuffer(app)));
    expect(result.format).toBe('tar.gz');
    expect([...result.files].sort()).toEqual(['bin/run', 'index.js', 'lib/util.js']);
    expect(result.unpackedBytes).toBe(26 + 14 + 10);
    const out = join(dir, 'out');
    expect(await readFile(join(out, 'index.js'), 'utf8')).toBe('module.exports = () => {}\n');
    expect((await stat(join(out, 'lib'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(out, 'lib/util.js'))).mode & 0o7777).toBe(0o755); // had x bits, setuid dropped
    expect((await stat(join(out, 'index.js'))).mode & 0o7777).toBe(0o644);
    expect((await stat(join(out, 'bin/run'))).mode & 0o7777).toBe(0o755);
  });

  it('strips a single wrapping folder in a plain tar, ignoring __MACOSX and .DS_Store junk', async () => {
    const result = await extract(
      await tarBuffer([
        ...wrapped('my-app', app),
        { name: '__MACOSX/my-app/._index.js', content: 'junk' },
        { name: '.DS_Store', content: 'junk' },
        { name: 'my-app/.DS_Store', content: 'junk' },
      ]),
    );
    expect(result.format).toBe('tar');
    expect(result.strippedFolder).toBe('my-app');
    expect([...result.files].sort()).toEqual(['bin/run', 'index.js', 'lib/util.js']);
    await expect(lstat(join(dir, 'out', '__MACOSX'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(join(dir, 'out', '.DS_Store'))).rejects.toThrow(/ENOENT/);
  });

  it('keeps a folder that is not the only top-level entry, and handles ./ prefixes', async () => {
    const result = await extract(
      await tarBuffer([
        { name: './', type: 'directory' },
        { name: './src/main.js', content: 'x' },
        { name: './package.json', content: '{}' },
      ]),
    );
    expect(result.strippedFolder).toBeUndefined();
    expect([...result.files].sort()).toEqual(['package.json', 'src/main.js']);
  });

  it('strips a wrapping folder whose child has the same name', async () => {
    const result = await extract(
      await tarBuffer(
        wrapped('app', [
          { name: 'app/index.js', content: 'x' },
          { name: 'x.js', content: 'y' },
        ]),
      ),
    );
    expect([...result.files].sort()).toEqual(['app/index.js', 'x.js']);
  });

  it('unpacks a zip with and without a wrapping folder, keeping the executable bit', async () => {
    const flat = await extract(
      await zipBuffer([
        { name: 'index.js', content: 'a' },
        { name: 'run.sh', content: 'b', mode: 0o100755 },
      ]),
    );
    expect(flat.format).toBe('zip');
    expect([...flat.files].sort()).toEqual(['index.js', 'run.sh']);
    expect((await stat(join(dir, 'out', 'run.sh'))).mode & 0o777).toBe(0o755);
    await rm(join(dir, 'out'), { recursive: true });

    const nested = await extract(
      await zipBuffer([
        { name: 'site/', dir: true },
        { name: 'site/index.html', content: '<h1>hi</h1>' },
        { name: '__MACOSX/site/._index.html', content: 'junk' },
      ]),
    );
    expect(nested.strippedFolder).toBe('site');
    expect([...nested.files].sort()).toEqual(['index.html']);
  });

  it('allows a symlink that stays inside the bundle', async () => {
    const result = await extract(
      await tarBuffer(
        wrapped('app', [
          { name: 'lib/a.js', content: 'x' },
          { name: 'main.js', type: 'symlink', linkname: 'lib/a.js' },
          { name: 'lib/up', type: 'symlink', linkname: '../main.js' },
        ]),
      ),
    );
    expect([...result.files].sort()).toEqual(['lib/a.js']);
    expect(await readlink(join(dir, 'out', 'main.js'))).toBe('lib/a.js');
    expect(await readFile(join(dir, 'out', 'lib/up'), 'utf8')).toBe('x');
  });

  it('turns a hard link to an earlier file into a copy', async () => {
    const result = await extract(
      await tarBuffer([
        { name: 'a.js', content: 'abc' },
        { name: 'b.js', type: 'link', linkname: 'a.js' },
      ]),
    );
    expect([...result.files].sort()).toEqual(['a.js', 'b.js']);
    expect(result.unpackedBytes).toBe(6);
    expect(await readFile(join(dir, 'out', 'b.js'), 'utf8')).toBe('abc');
  });
});

describe('extractBundle: rejected archives name the problem', () => {
  it.each([
    ['../x', /entry "\.\.\/x" contains a "\.\." segment/],
    ['app/../../x', /entry "app\/\.\.\/\.\.\/x" contains a "\.\." segment/],
    ['/etc/x', /entry "\/etc\/x" is an absolute path/],
  ])('tar entry %s', async (name, message) => {
    const err = await rejection(
      extract(
        gzipSync(
          await tarBuffer([
            { name: 'index.js', content: 'x' },
            { name, content: 'evil' },
          ]),
        ),
      ),
    );
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(message);
  });

  it('zip entries with .. or absolute paths', async () => {
    // yazl refuses to write such names, so patch a same-length name into the finished bytes.
    const zip = await zipBuffer([
      { name: 'index.js', content: 'x' },
      { name: 'zz/evil.txt', content: 'evil' },
    ]);
    const evil = Buffer.from(zip.toString('latin1').replaceAll('zz/evil.txt', '../evil.txt'), 'latin1');
    const err = await rejection(extract(evil));
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/entry "\.\.\/evil\.txt" contains a "\.\." segment/);
  });

  it.each([
    ['../../etc/passwd', /symlink "lib\/pw" points outside the bundle \("\.\.\/\.\.\/etc\/passwd"\)/],
    ['/etc/passwd', /symlink "lib\/pw" points to the absolute path "\/etc\/passwd"/],
  ])('symlink to %s', async (linkname, message) => {
    const err = await rejection(
      extract(
        await tarBuffer([
          { name: 'index.js', content: 'x' },
          { name: 'lib/pw', type: 'symlink', linkname },
        ]),
      ),
    );
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(message);
  });

  it('a symlink that only escapes once the wrapping folder is stripped', async () => {
    const err = await rejection(
      extract(
        await tarBuffer(
          wrapped('app', [
            { name: 'index.js', content: 'x' },
            { name: 'up', type: 'symlink', linkname: '../other' },
          ]),
        ),
      ),
    );
    expect(err.message).toMatch(/symlink "app\/up" points outside the bundle/);
  });

  it('a symlink that escapes through another symlink', async () => {
    const err = await rejection(
      extract(
        await tarBuffer([
          { name: 'index.js', content: 'x' },
          { name: 'a', type: 'symlink', linkname: 'sub/l/..' },
          { name: 'sub/l', type: 'symlink', linkname: '..' },
        ]),
      ),
    );
    expect(err.message).toMatch(/symlink "a" points outside the bundle \("sub\/l\/\.\."\)/);
  });

  it('an entry written through a symlink', async () => {
    const err = await rejection(
      extract(
        await tarBuffer([
          { name: 'd', type: 'symlink', linkname: '.' },
          { name: 'd/x.js', content: 'x' },
        ]),
      ),
    );
    expect(err.message).toMatch(/entry "d\/x\.js" lies inside the symlink "d"/);
  });

  it('a zip symlink escaping the bundle', async () => {
    const err = await rejection(
      extract(
        await zipBuffer([
          { name: 'index.js', content: 'x' },
          { name: 'pw', content: '../../etc/passwd', mode: 0o120777 },
        ]),
      ),
    );
    expect(err.message).toMatch(/symlink "pw" points outside the bundle/);
  });

  it.each([
    ['/etc/passwd', /hard link "h" points outside the bundle \("\/etc\/passwd"\)/],
    ['../x', /hard link "h" points outside the bundle/],
    ['missing.js', /hard link "h" points to "missing\.js", which is not a file earlier in the archive/],
  ])('hard link to %s', async (linkname, message) => {
    const err = await rejection(
      extract(
        await tarBuffer([
          { name: 'index.js', content: 'x' },
          { name: 'h', type: 'link', linkname },
        ]),
      ),
    );
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(message);
  });

  it.each([
    ['character-device', /entry "dev\/null" is a character device/],
    ['block-device', /entry "dev\/null" is a block device/],
    ['fifo', /entry "dev\/null" is a fifo/],
  ] as const)('%s entry', async (type, message) => {
    const err = await rejection(
      extract(
        await tarBuffer([
          { name: 'index.js', content: 'x' },
          { name: 'dev/null', type, devmajor: 1, devminor: 3 },
        ]),
      ),
    );
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(message);
  });

  it('a zip fifo entry', async () => {
    const err = await rejection(
      extract(
        await zipBuffer([
          { name: 'index.js', content: 'x' },
          { name: 'pipe', mode: 0o010644 },
        ]),
      ),
    );
    expect(err.message).toMatch(/entry "pipe" is a fifo/);
  });

  it('corrupt gzip', async () => {
    const gz = gzipSync(await tarBuffer(app));
    gz.fill(0x55, 20, 60);
    const err = await rejection(extract(gz));
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/corrupt archive: the gzip data is damaged/);
  });

  it('a gzip that does not hold a tar', async () => {
    const err = await rejection(extract(gzipSync(Buffer.from('hello world, '.repeat(100)))));
    expect(err.message).toMatch(/gzip file does not hold a tar archive/);
  });

  it('truncated tar (cut in the middle of a file)', async () => {
    const tar = await tarBuffer([
      { name: 'index.js', content: 'x' },
      { name: 'big.bin', content: Buffer.alloc(10_000, 1) },
    ]);
    const err = await rejection(extract(tar.subarray(0, 512 * 2 + 512 + 3000)));
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/corrupt tar archive \(at entry "big\.bin"\): it ends early/);
  });

  it('truncated tar.gz and truncated zip', async () => {
    const gz = gzipSync(await tarBuffer(app));
    expect((await rejection(extract(gz.subarray(0, gz.length - 30)))).message).toMatch(/corrupt|ends early/);
    await rm(join(dir, 'out'), { recursive: true, force: true });
    const zip = await zipBuffer([{ name: 'index.js', content: 'x'.repeat(1000) }]);
    const err = await rejection(extract(zip.subarray(0, zip.length - 30)));
    expect(err.message).toMatch(/corrupt zip archive/);
  });

  it('random text is not an archive', async () => {
    const err = await rejection(extract(Buffer.from('just some text, certainly not an archive\n'.repeat(20))));
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toBe('not an archive (expected tar.gz, tar or zip)');
  });

  it.each([
    ['tar', () => tarBuffer([])],
    ['tar.gz', async () => gzipSync(await tarBuffer([]))],
    ['tar with only folders', () => tarBuffer([{ name: 'app/', type: 'directory' }])],
    ['zip', () => zipBuffer([])],
  ])('empty %s', async (_name, make) => {
    const err = await rejection(extract(await make()));
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/empty archive/);
  });

  it('more entries than the limit (tar and zip)', async () => {
    const many = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.js`, content: 'x' }));
    const err = await rejection(extract(await tarBuffer(many), { maxEntries: 10 }));
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(/more than 10 entries.*stopped at "f10\.js"/);
    await rm(join(dir, 'out'), { recursive: true, force: true });
    const zipErr = await rejection(extract(await zipBuffer(many), { maxEntries: 10 }));
    expect(zipErr.message).toMatch(/11 entries, more than the limit of 10/);
  });

  it('a zip bomb stops at the unpacked limit instead of writing everything', async () => {
    const bomb = await zipBuffer([
      { name: 'index.js', content: 'x' },
      { name: 'bomb.bin', content: Buffer.alloc(64 * 1024 * 1024) },
    ]);
    expect(bomb.length).toBeLessThan(200 * 1024); // highly compressible: 64 MiB of zeros
    const err = await rejection(extract(bomb, { maxUnpackedBytes: 1024 * 1024 }));
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(/unpacks to more than 1 MiB .*stopped at "bomb\.bin"/);
    // What reached the disk is bounded by the limit (plus at most one chunk), not 64 MiB.
    expect((await stat(join(dir, 'out', 'bomb.bin'))).size).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
  });

  it('a gzip bomb stops at the unpacked limit', async () => {
    const bomb = gzipSync(await tarBuffer([{ name: 'bomb.bin', content: Buffer.alloc(32 * 1024 * 1024) }]));
    const err = await rejection(extract(bomb, { maxUnpackedBytes: 1024 * 1024 }));
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(/stopped at "bomb\.bin"/);
    expect((await stat(join(dir, 'out', 'bomb.bin'))).size).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
  });

  it('a gzip of endless zero blocks (no entries) is stopped too', async () => {
    const zeros = gzipSync(
      Buffer.concat([await tarBuffer([{ name: 'a.js', content: 'x' }]), Buffer.alloc(16 * 1024 * 1024)]),
    );
    const err = await rejection(extract(zeros, { maxUnpackedBytes: 1024 * 1024, maxEntries: 10 }));
    expect(err.code).toBe('bundle_too_large');
  });

  it('an upload larger than maxCompressedBytes, before reading it', async () => {
    const err = await rejection(extract(gzipSync(await tarBuffer(app)), { maxCompressedBytes: 100 }));
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(/bundle is \d+ B, more than the 100 B limit/);
  });

  it('a name used both as a file and as a folder', async () => {
    const err = await rejection(
      extract(
        await tarBuffer([
          { name: 'a', content: 'x' },
          { name: 'a/b.js', content: 'y' },
        ]),
      ),
    );
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/"a" is used both as a file and as a folder/);
  });
});
