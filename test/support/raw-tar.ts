/**
 * Tar blocks written byte by byte, for archives no well-behaved tool makes: GNU long names,
 * pax records of any size, headers that claim more than follows. Format: POSIX ustar (pax
 * interchange format), with GNU's type flags where asked.
 */
export interface RawHeader {
  name: string;
  /** The type flag character: '0' file, '5' folder, '2' symlink, 'x' pax, 'g' pax global, 'L'/'K' GNU long name/link. */
  type: string;
  size: number;
  linkname?: string;
}

export function tarHeader(h: RawHeader): Buffer {
  const block = Buffer.alloc(512);
  block.write(h.name.slice(0, 100), 0, 'latin1');
  block.write('0000644\0', 100);
  block.write('0000000\0', 108);
  block.write('0000000\0', 116);
  if (h.size < 8 ** 11) {
    block.write(`${h.size.toString(8).padStart(11, '0')}\0`, 124);
  } else {
    // GNU base-256: the high bit of the first byte set, the number big-endian in the rest.
    block[124] = 0x80;
    let n = h.size;
    for (let i = 135; i > 124; i--) {
      block[i] = n % 256;
      n = Math.floor(n / 256);
    }
  }
  block.write('00000000000\0', 136);
  block.write('        ', 148);
  block.write(h.type, 156, 'latin1');
  if (h.linkname) block.write(h.linkname.slice(0, 100), 157, 'latin1');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** The data of an entry, padded to whole blocks. */
export function tarBody(data: Buffer | string): Buffer {
  const buf = Buffer.from(data);
  const rest = buf.length % 512;
  return rest === 0 ? buf : Buffer.concat([buf, Buffer.alloc(512 - rest)]);
}

/** A pax record `<len> <key>=<value>\n`, its length counting itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A whole entry: header plus padded data. */
export function tarEntry(h: Omit<RawHeader, 'size'>, data: Buffer | string = ''): Buffer {
  const buf = Buffer.from(data);
  return Buffer.concat([tarHeader({ ...h, size: buf.length }), tarBody(buf)]);
}

/** The two zero blocks that end an archive. */
export const TAR_END = Buffer.alloc(1024);
