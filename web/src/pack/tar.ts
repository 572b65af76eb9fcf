/**
 * A minimal POSIX ustar writer for packing a dropped folder in the browser.
 * Regular files only (a browser hands us no links or devices). Paths longer
 * than ustar's name/prefix fields, or not ASCII, get a PAX `path` record.
 */
export interface PackEntry {
  path: string;
  data: Blob;
  mtime?: number;
}

const BLOCK = 512;
const enc = new TextEncoder();

export async function tarOf(entries: PackEntry[]): Promise<Blob> {
  const parts: BlobPart[] = [];
  for (const e of entries) {
    const size = e.data.size;
    const mtime = Math.floor((e.mtime ?? Date.now()) / 1000);
    const fit = fitName(e.path);
    if (!fit) {
      const record = paxRecord('path', e.path);
      parts.push(header({ name: 'PaxHeader', size: record.length, mtime, type: 'x' }), record, padding(record.length));
    }
    parts.push(
      header({
        name: fit?.name ?? e.path.slice(-99).replace(/[^\x20-\x7e]/g, '_'),
        prefix: fit?.prefix,
        size,
        mtime,
        type: '0',
      }),
    );
    parts.push(e.data, padding(size));
  }
  parts.push(new Uint8Array(BLOCK * 2)); // end of archive: two zero blocks
  return new Blob(parts, { type: 'application/x-tar' });
}

export async function gzip(blob: Blob): Promise<Blob> {
  const stream = blob.stream().pipeThrough(new CompressionStream('gzip'));
  return new Blob([await new Response(stream).arrayBuffer()], { type: 'application/gzip' });
}

/** Splits a path into ustar's prefix (155) + name (100), or null when it cannot fit. */
function fitName(path: string): { name: string; prefix?: string } | null {
  if (!/^[\x20-\x7e]*$/.test(path)) return null;
  if (path.length <= 100) return { name: path };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100) return { name, prefix };
  }
  return null;
}

/** "<len> key=value\n" where len counts the whole record, itself included. */
function paxRecord(key: string, value: string): Uint8Array<ArrayBuffer> {
  const body = enc.encode(` ${key}=${value}\n`);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return enc.encode(`${len} ${key}=${value}\n`);
}

function header(h: {
  name: string;
  prefix?: string | undefined;
  size: number;
  mtime: number;
  type: '0' | 'x';
}): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(BLOCK);
  const put = (offset: number, len: number, s: string) => b.set(enc.encode(s).subarray(0, len), offset);
  const octal = (offset: number, len: number, n: number) =>
    put(offset, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
  put(0, 100, h.name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, h.size);
  octal(136, 12, h.mtime);
  put(148, 8, '        '); // checksum is computed with its own field as spaces
  put(156, 1, h.type);
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  if (h.prefix) put(345, 155, h.prefix);
  let sum = 0;
  for (const byte of b) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return b;
}

const padding = (size: number): Uint8Array<ArrayBuffer> => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
