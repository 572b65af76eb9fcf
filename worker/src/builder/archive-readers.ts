import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract, type Header } from 'tar-stream';
import yauzl from 'yauzl';
import { BundleNameRules } from '@sidecar/core';
import type { ArchiveEntry } from './bundle-writer.js';
import { invalid, shownName, tooLarge } from './messages.js';
import { tarGuard } from './tar-guard.js';

export type ArchiveFormat = 'tar.gz' | 'tar' | 'zip';

/** Sniffs the first bytes: the upload's file name and content type are the client's word, not a fact. */
export async function detectFormat(file: string): Promise<ArchiveFormat> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(1024);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const b = head.subarray(0, bytesRead);
    if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'tar.gz';
    if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6)))
      return 'zip';
    if (looksLikeTar(b)) return 'tar';
    throw invalid('not an archive (expected tar.gz, tar or zip)');
  } finally {
    await handle.close();
  }
}

/** The archive's data failed (corrupt, truncated); `entry` is the entry being read then, if known. */
export class ArchiveDataError extends Error {
  constructor(
    readonly entry: string | undefined,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'ArchiveDataError';
  }
}

/** A ustar/GNU header, or the two zero blocks that are a whole empty tar (reported later as "empty archive"). */
function looksLikeTar(head: Buffer): boolean {
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return true;
  return head.length >= 1024 && head.subarray(0, 1024).every((b) => b === 0);
}

const TAR_TYPES: Partial<Record<Header['type'] & string, ArchiveEntry['kind']>> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
};

/**
 * Tar entries one at a time, gunzipping first when asked. The decompressed
 * stream is metered too: a gzip of endless zero blocks holds no entries but
 * would otherwise be inflated forever.
 */
export async function* readTar(opts: {
  file: string;
  gzip: boolean;
  maxTarBytes: number;
}): AsyncGenerator<ArchiveEntry> {
  // tar-stream's event API rather than its async iterator, so a failure mid-entry (truncated, corrupt
  // gzip) reaches whoever reads that entry.
  const extract = tarExtract();
  const queue: { header: Header; body: Readable; next: () => void }[] = [];
  let current: Readable | undefined;
  let failure: unknown;
  let finished = false;
  let wake = () => {};
  extract.on('entry', (header, source, next) => {
    // Hand out a Node stream: a tar-stream entry destroyed by a failing parent goes quiet (no
    // 'error', no 'close') and would leave its reader waiting forever; this one we can fail ourselves.
    const body = new PassThrough();
    source.on('error', (err: Error) => body.destroy(err));
    source.pipe(body);
    queue.push({ header, body, next });
    wake();
  });
  // The guard sees every byte before tar-stream does: oversized extended headers never get buffered.
  const stages: NodeJS.ReadWriteStream[] = opts.gzip
    ? [createGunzip(), meterTar(opts.maxTarBytes), tarGuard()]
    : [tarGuard()];
  pipeline([createReadStream(opts.file), ...stages, extract as unknown as NodeJS.WritableStream]).then(
    () => {
      finished = true;
      wake();
    },
    (err: unknown) => {
      failure = err;
      current?.destroy(err as Error);
      wake();
    },
  );
  try {
    while (true) {
      const item = queue.shift();
      if (failure !== undefined) throw new ArchiveDataError(item?.header.name, failure);
      if (item) {
        const { header, body, next } = item;
        current = body;
        yield {
          name: header.name,
          kind: TAR_TYPES[header.type ?? 'file'] ?? 'unsupported',
          description: header.type?.replace(/-/g, ' ') ?? 'unknown entry type',
          executable: ((header.mode ?? 0) & 0o111) !== 0,
          ...(header.linkname ? { linkTarget: header.linkname } : {}),
          body,
        };
        current = undefined;
        next();
      } else if (finished) {
        return;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    }
  } finally {
    extract.destroy();
  }
}

function meterTar(max: number): Transform {
  let seen = 0;
  let head = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > max) return done(tooLarge(`the decompressed tar stream is larger than the bundle limits allow`));
      if (head.length < 1024) {
        head = Buffer.concat([head, chunk]);
        if (head.length >= 1024 && !looksLikeTar(head)) {
          return done(
            invalid('not an archive: the gzip file does not hold a tar archive (expected tar.gz, tar or zip)'),
          );
        }
      }
      done(null, chunk);
    },
  });
}

/** Zip entries from the central directory, one at a time. */
export async function* readZip(opts: { file: string; maxEntries: number }): AsyncGenerator<ArchiveEntry> {
  // Names decoded and checked by us (decodeStrings off) so every format gets the same rules and messages.
  const zip = await yauzl.openPromise(opts.file, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true });
  if (zip.entryCount > opts.maxEntries) {
    zip.close();
    throw tooLarge(`bundle has ${zip.entryCount} entries, more than the limit of ${opts.maxEntries}`);
  }
  try {
    while (true) {
      const entry = await nextZipEntry(zip);
      if (!entry) return;
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      const unixMode = entry.versionMadeBy >> 8 === 3 ? entry.externalFileAttributes >>> 16 : 0;
      const type = unixMode & 0o170000;
      if (name.endsWith('/') || type === 0o040000) {
        yield { name, kind: 'directory' };
      } else if (type === 0o120000) {
        const target = await readSmall(
          await zip.openReadStreamPromise(entry),
          BundleNameRules.maxLinkTargetBytes,
          name,
        );
        yield { name, kind: 'symlink', linkTarget: target };
      } else if (type !== 0 && type !== 0o100000) {
        yield { name, kind: 'unsupported', description: ZIP_SPECIAL[type] ?? 'special file' };
      } else {
        yield {
          name,
          kind: 'file',
          executable: (unixMode & 0o111) !== 0,
          body: await zip.openReadStreamPromise(entry),
        };
      }
    }
  } finally {
    zip.close();
  }
}

const ZIP_SPECIAL: Record<number, string> = {
  0o010000: 'fifo',
  0o020000: 'character device',
  0o060000: 'block device',
  0o140000: 'socket',
};

function nextZipEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
    };
    const onEntry = (e: yauzl.Entry) => (cleanup(), resolve(e));
    const onEnd = () => (cleanup(), resolve(undefined));
    const onError = (err: Error) => (cleanup(), reject(err));
    zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
    zip.readEntry();
  });
}

async function readSmall(stream: Readable, max: number, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw invalid(`symlink "${shownName(name)}" has a target longer than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
