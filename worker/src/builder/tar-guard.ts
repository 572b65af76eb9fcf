import { Transform } from 'node:stream';
import { BundleNameRules } from '@sidecar/core';
import { formatBytes, invalid } from './messages.js';

/**
 * A pass-through in front of tar-stream that follows the tar framing itself, so an extended header
 * (pax `x`/`g`, GNU long name `L`/`N` or long link `K`) larger than the limit is refused when its
 * 512-byte header block arrives — before tar-stream would buffer its body (up to 4 MiB, then decoded
 * whole into one name). It mirrors tar-stream 3's framing (extract.js, headers.js) to stay in step
 * with it: a pax `size` record overrides the next entry's size (merged over a global pax header only
 * when the entry has its own pax header), and a directory's data is never skipped. A block tar-stream
 * itself would refuse (bad checksum, unknown format) ends the guarding: tar-stream fails the archive.
 */
export function tarGuard(maxExtendedHeaderBytes: number = BundleNameRules.maxExtendedHeaderBytes): Transform {
  const header = Buffer.alloc(BLOCK);
  let headerFill = 0;
  /** Body bytes still to pass (data plus padding) before the next header. */
  let skip = 0;
  /** An extended header being collected, with its type and size. */
  let extended: { type: number; size: number; chunks: Buffer[]; got: number } | undefined;
  let globalPax: Record<string, string> = {};
  let entryPax: Record<string, string> | undefined;
  let trusting = false; // tar-stream will refuse what follows; nothing more to guard

  const onHeader = (): void => {
    if (isZeroBlock(header)) return; // end-of-archive marker (tar-stream skips it too)
    if (checksum(header) !== decodeNumber(header, 148, 8) || !isKnownFormat(header)) {
      trusting = true;
      return;
    }
    const type = header[156]!;
    const size = decodeNumber(header, 124, 12);
    if (EXTENDED.has(type)) {
      if (!(size >= 0)) return void (trusting = true);
      if (size > maxExtendedHeaderBytes) {
        throw invalid(
          `the archive has a tar ${EXTENDED.get(type)} of ${formatBytes(size)}, more than the ` +
            `${formatBytes(maxExtendedHeaderBytes)} limit (entry names are limited to ` +
            `${BundleNameRules.maxNameBytes} bytes)`,
        );
      }
      // No tool writes an empty one, and tar-stream loses its place after one: refused, not mirrored.
      if (size === 0) throw invalid(`the archive has an empty tar ${EXTENDED.get(type)}`);
      extended = { type, size, chunks: [], got: 0 };
      return;
    }
    // A regular entry: its data size, as tar-stream will see it.
    const pax = entryPax;
    entryPax = undefined;
    let dataSize = size;
    if (pax?.size) dataSize = parseInt(pax.size, 10);
    if (!(dataSize >= 0)) return void (trusting = true);
    if (isDirectory(header)) dataSize = 0;
    skip = dataSize + padding(dataSize);
  };

  const onExtended = (body: Buffer, type: number): void => {
    if (type === PAX_GLOBAL) globalPax = decodePax(body);
    else if (type === PAX) entryPax = { ...globalPax, ...decodePax(body) };
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        let at = 0;
        while (!trusting && at < chunk.length) {
          if (skip > 0) {
            const n = Math.min(skip, chunk.length - at);
            skip -= n;
            at += n;
          } else if (extended) {
            const n = Math.min(extended.size - extended.got, chunk.length - at);
            extended.chunks.push(chunk.subarray(at, at + n));
            extended.got += n;
            at += n;
            if (extended.got === extended.size) {
              const { type, size, chunks } = extended;
              extended = undefined;
              onExtended(Buffer.concat(chunks), type);
              skip = padding(size);
            }
          } else {
            const n = Math.min(BLOCK - headerFill, chunk.length - at);
            chunk.copy(header, headerFill, at, at + n);
            headerFill += n;
            at += n;
            if (headerFill === BLOCK) {
              headerFill = 0;
              onHeader();
            }
          }
        }
        done(null, chunk);
      } catch (err) {
        done(err as Error);
      }
    },
  });
}

const BLOCK = 512;
const PAX = 'x'.charCodeAt(0);
const PAX_GLOBAL = 'g'.charCodeAt(0);
const EXTENDED = new Map<number, string>([
  [PAX, 'pax extended header'],
  [PAX_GLOBAL, 'pax global header'],
  ['L'.charCodeAt(0), 'GNU long-name header'],
  ['N'.charCodeAt(0), 'GNU long-name header'],
  ['K'.charCodeAt(0), 'GNU long-link header'],
]);

const padding = (size: number) => {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
};

function isZeroBlock(block: Buffer): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

function checksum(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

function isKnownFormat(block: Buffer): boolean {
  const magic = block.toString('latin1', 257, 263);
  return magic === 'ustar\0' || (magic === 'ustar ' && block[263] === 0x20 && block[264] === 0);
}

/** Type `5`, or an old-style file entry whose name ends in `/` (tar-stream reads both as folders). */
function isDirectory(block: Buffer): boolean {
  const type = block[156]!;
  if (type === '5'.charCodeAt(0)) return true;
  if (type !== 0 && type !== '0'.charCodeAt(0)) return false;
  let nameEnd = 0;
  while (nameEnd < 100 && block[nameEnd] !== 0) nameEnd++;
  return nameEnd > 0 && block[nameEnd - 1] === '/'.charCodeAt(0);
}

/** An octal number field, or base-256 when its first byte has the high bit (GNU, for sizes ≥ 8 GiB). */
function decodeNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    if (field[0] !== 0x80) return -1; // negative: tar-stream calls the header invalid
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  let start = 0;
  while (start < field.length && field[start] === 0x20) start++;
  let end = field.indexOf(0x20, start);
  if (end === -1) end = field.length;
  while (start < end && field[start] === 0) start++;
  if (start === end) return 0;
  return parseInt(field.toString('latin1', start, end), 8);
}

/** pax records `<len> <key>=<value>\n`, read exactly as tar-stream's decodePax does. */
function decodePax(body: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let buf = body;
  while (buf.length > 0) {
    let i = 0;
    while (i < buf.length && buf[i] !== 0x20) i++;
    const len = parseInt(buf.toString('utf8', 0, i), 10);
    if (!len) return result;
    const record = buf.toString('utf8', i + 1, len - 1);
    const eq = record.indexOf('=');
    if (eq === -1) return result;
    result[record.slice(0, eq)] = record.slice(eq + 1);
    buf = buf.subarray(len);
  }
  return result;
}
