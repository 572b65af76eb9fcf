import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DomainError } from '@sidecar/core';
import { tarGuard } from './tar-guard.js';
import { paxRecord, TAR_END, tarEntry, tarHeader } from '../../../test/support/raw-tar.js';

/** Feeds `chunks` through a guard; resolves with how many bytes it let through, or rejects. */
async function guarded(chunks: Buffer[], max = 16 * 1024): Promise<number> {
  let passed = 0;
  const source = new PassThrough();
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => (passed += c.length));
  const done = pipeline(source, tarGuard(max), sink);
  for (const c of chunks) source.write(c);
  source.end();
  await done;
  return passed;
}

describe('tarGuard', () => {
  it('refuses an oversized pax header on its header block alone, before any of its body', async () => {
    // Only the 512-byte header is ever written: the guard must decide from the size field.
    const err = await guarded([tarHeader({ name: 'PaxHeader/x', type: 'x', size: 1024 * 1024 * 1024 })]).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('bundle_invalid');
    expect((err as DomainError).message).toMatch(/tar pax extended header of 1 GiB, more than the 16 KiB limit/);
  });

  it.each([
    ['L', /GNU long-name header of 4 MiB/],
    ['K', /GNU long-link header of 4 MiB/],
    ['g', /pax global header of 4 MiB/],
  ])('refuses an oversized %s header the same way', async (type, message) => {
    const err = (await guarded([tarHeader({ name: '././@LongLink', type, size: 4 * 1024 * 1024 })]).catch(
      (e: unknown) => e,
    )) as DomainError;
    expect(err.message).toMatch(message);
  });

  it('refuses an empty extended header, which tar-stream would lose its place after', async () => {
    const err = (await guarded([tarHeader({ name: 'PaxHeader/x', type: 'x', size: 0 }), TAR_END]).catch(
      (e: unknown) => e,
    )) as DomainError;
    expect(err.message).toMatch(/empty tar pax extended header/);
  });

  it('passes an archive with small pax and GNU headers through unchanged, in chunks of any size', async () => {
    const pax = paxRecord('path', `${'d/'.repeat(200)}file.js`);
    const archive = Buffer.concat([
      tarEntry({ name: 'PaxHeader/x', type: 'x' }, pax),
      tarEntry({ name: 'x', type: '0' }, 'hello'),
      tarEntry({ name: '././@LongLink', type: 'L' }, `${'n'.repeat(300)}\0`),
      tarEntry({ name: 'y', type: '0' }, 'world'),
      TAR_END,
    ]);
    const oneByOne = Array.from({ length: archive.length / 7 + 1 }, (_, i) => archive.subarray(i * 7, i * 7 + 7));
    expect(await guarded(oneByOne)).toBe(archive.length);
  });

  it("follows a pax size record, so an entry's data that looks like a header is not read as one", async () => {
    // The ustar header says 0 bytes; the pax record says 1024. Those 1024 bytes hold what looks like a
    // giant pax header: read as a header (out of step with tar-stream) the guard would refuse it.
    const decoy = Buffer.concat([tarHeader({ name: 'PaxHeader/d', type: 'x', size: 1024 ** 3 }), Buffer.alloc(512)]);
    const archive = Buffer.concat([
      tarEntry({ name: 'PaxHeader/f', type: 'x' }, paxRecord('size', '1024')),
      tarHeader({ name: 'f', type: '0', size: 0 }),
      decoy,
      tarEntry({ name: 'g', type: '0' }, 'after'),
      TAR_END,
    ]);
    expect(await guarded([archive])).toBe(archive.length);
  });

  it('skips no data for a folder entry (tar-stream never does), so what follows is checked as a header', async () => {
    const archive = Buffer.concat([
      tarHeader({ name: 'dir/', type: '5', size: 512 }),
      tarHeader({ name: 'PaxHeader/x', type: 'x', size: 1024 ** 3 }),
    ]);
    await expect(guarded([archive])).rejects.toThrow(/pax extended header of 1 GiB/);
  });
});
