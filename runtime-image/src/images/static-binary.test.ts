import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeBuildError, staticBinary } from './static-binary.js';

const sourceDir = fileURLToPath(new URL('../../log-shipper', import.meta.url));
let cacheDir = '';
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'static-binary-test-'));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('staticBinary', () => {
  it('compiles the log shipper once into a static binary with no dynamic loader, then reuses it', async () => {
    const binary = await staticBinary({ sourceDir, name: 'log-shipper', cacheDir });
    const bytes = await readFile(binary);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(programHeaderTypes(bytes)).not.toContain(PT_INTERP); // no dynamic loader: it runs FROM scratch
    const { mtimeMs } = await stat(binary);
    expect(await staticBinary({ sourceDir, name: 'log-shipper', cacheDir })).toBe(binary);
    expect((await stat(binary)).mtimeMs).toBe(mtimeMs);
  }, 120_000);

  it('names the Debian packages when there is no C compiler', async () => {
    const failed = staticBinary({ sourceDir, name: 'log-shipper', cacheDir, cc: '/nonexistent/cc' });
    await expect(failed).rejects.toBeInstanceOf(NativeBuildError);
    await expect(failed).rejects.toThrow(/no C compiler .*install Debian's gcc libc6-dev/);
  });
});

const PT_INTERP = 3;
/** The types of a 64-bit little-endian ELF file's program headers. */
function programHeaderTypes(elf: Buffer): number[] {
  const offset = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  return Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(offset + i * size));
}
