import { mkdir, readdir, stat } from 'node:fs/promises';
import { DomainError, type BundleLimits } from '@sidecar/core';
import { ArchiveDataError, detectFormat, readTar, readZip, type ArchiveFormat } from './archive-readers.js';
import { BundleWriter, type ArchiveEntry } from './bundle-writer.js';
import { formatBytes, invalid, shownName, tooLarge } from './messages.js';

export interface ExtractBundleOptions {
  /** File path of the uploaded bundle. */
  source: string;
  /** Where to unpack; created if missing, must be empty. On failure it may hold a partial extraction: the caller owns and removes it. */
  dest: string;
  limits: BundleLimits;
  signal?: AbortSignal;
}

export interface ExtractedBundle {
  /** Regular files, relative POSIX paths after stripping a wrapping folder, in archive order. */
  files: string[];
  /** Bytes actually written (not what headers claimed). */
  unpackedBytes: number;
  format: ArchiveFormat;
  strippedFolder?: string;
}

// Tar framing around the data: a header (plus pax/long-name headers) and padding per entry.
const TAR_OVERHEAD_PER_ENTRY = 4096;

/**
 * Safely unpacks a tar.gz, tar or zip bundle (API.md "The bundle"). Rejects with
 * DomainError bundle_invalid / bundle_too_large naming the offending entry.
 */
export async function extractBundle(opts: ExtractBundleOptions): Promise<ExtractedBundle> {
  const { source, dest, limits } = opts;
  const size = (await stat(source)).size;
  if (size > limits.maxCompressedBytes) {
    throw tooLarge(`bundle is ${formatBytes(size)}, more than the ${formatBytes(limits.maxCompressedBytes)} limit`);
  }
  if (size === 0) throw invalid('not an archive (expected tar.gz, tar or zip): the file is empty');
  const format = await detectFormat(source);

  await mkdir(dest, { recursive: true });
  if ((await readdir(dest)).length > 0) throw new Error(`extractBundle: destination ${dest} is not empty`);

  const writer = new BundleWriter({ dest, limits, ...(opts.signal ? { signal: opts.signal } : {}) });
  const entries: AsyncGenerator<ArchiveEntry> =
    format === 'zip'
      ? readZip({ file: source, maxEntries: limits.maxEntries })
      : readTar({
          file: source,
          gzip: format === 'tar.gz',
          maxTarBytes: limits.maxUnpackedBytes + (limits.maxEntries + 1) * TAR_OVERHEAD_PER_ENTRY,
        });
  let current: string | undefined;
  try {
    for await (const entry of entries) {
      current = entry.name;
      await writer.add(entry);
    }
  } catch (err) {
    throw classify(err, format, current);
  }
  return { ...(await writer.finish()), format };
}

/**
 * Library errors mean a damaged archive: say so, naming where it broke. Our own
 * DomainErrors pass as they are; host I/O errors (disk full, ...) pass untouched
 * so the caller treats them as transient.
 */
function classify(err: unknown, format: ArchiveFormat, entry: string | undefined): unknown {
  if (err instanceof ArchiveDataError) return classify(err.cause, format, err.entry ?? entry);
  if (!(err instanceof Error) || err instanceof DomainError) return err;
  const { code, syscall } = err as NodeJS.ErrnoException;
  if (syscall) return err;
  const where = entry === undefined ? '' : ` (at entry "${shownName(entry)}")`;
  if (code?.startsWith('Z_') && format === 'tar.gz')
    return invalid(`corrupt archive: the gzip data is damaged${where}: ${err.message}`);
  if (code?.startsWith('ERR_') && code !== 'ERR_STREAM_PREMATURE_CLOSE') return err;
  const detail = /unexpected end of data|unexpected eof|premature close/i.test(err.message)
    ? 'it ends early (truncated?)'
    : err.message;
  return invalid(`corrupt ${format} archive${where}: ${detail}`);
}
