import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { packFiles } from './bundle.js';
import { gzip, tarOf } from './tar.js';

// The browser's folder packer, read back by tar-stream (what the worker's extractor uses) and by GNU tar.
const long = `deep/${'a'.repeat(60)}/${'b'.repeat(60)}/file.js`; // > 100: split into ustar prefix + name
const veryLong = `${'c'.repeat(120)}/${'d'.repeat(120)}/${'e'.repeat(30)}.js`; // fits no ustar field: PAX path
const files: Record<string, string> = {
  'index.js': "module.exports = (q, s) => s.end('hi');",
  'lib/ünïcode.txt': 'utf-8 name: PAX path',
  [long]: 'long',
  [veryLong]: 'very long',
  'empty.txt': '',
};
const entries = () =>
  Object.entries(files).map(([path, text]) => ({ path, data: new Blob([text]), mtime: 1_700_000_000_000 }));

async function readTar(buf: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => void chunks.push(c as Buffer));
      stream.on('end', () => {
        out[header.name] = Buffer.concat(chunks).toString('utf8');
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

describe('browser tar packer', () => {
  it('writes ustar (+ PAX for long or non-ASCII paths) that tar-stream reads back exactly', async () => {
    const tar = Buffer.from(await (await tarOf(entries())).arrayBuffer());
    expect(tar.length % 512).toBe(0);
    expect(await readTar(tar)).toEqual(files);
  });

  it('gzips with CompressionStream, and GNU tar lists the same files', async () => {
    const gz = Buffer.from(await (await gzip(await tarOf(entries()))).arrayBuffer());
    expect(await readTar(gunzipSync(gz))).toEqual(files);
    const dir = mkdtempSync(join(tmpdir(), 'web-tar-'));
    try {
      writeFileSync(join(dir, 'b.tgz'), gz);
      const listed = execFileSync('tar', ['-tzf', join(dir, 'b.tgz')], { encoding: 'utf8' })
        .trim()
        .split('\n');
      expect(listed.sort()).toEqual(Object.keys(files).sort());
      execFileSync('tar', ['-xzf', join(dir, 'b.tgz'), '-C', dir]);
      expect(readFileSync(join(dir, veryLong), 'utf8')).toBe('very long');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves out .git and OS litter from a dropped folder', async () => {
    const b = await packFiles(
      [
        { path: 'site/index.html', data: new Blob(['<h1>hi</h1>']) },
        { path: 'site/.git/HEAD', data: new Blob(['ref: refs/heads/main']) },
        { path: 'site/.DS_Store', data: new Blob(['x']) },
      ],
      'site',
    );
    expect(b.contentType).toBe('application/gzip');
    expect(Object.keys(await readTar(gunzipSync(Buffer.from(await b.blob.arrayBuffer())))).sort()).toEqual([
      'site/index.html',
    ]);
  });
});
