/**
 * A Docker build context described as data (a Dockerfile plus entries), turned
 * into a tar stream with tar-stream and into a content hash that names the image.
 * Describing contexts as data keeps every image build free of shell strings and
 * makes "same inputs → same tag → no rebuild" a property of one function.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { mapLimited } from './map-limited.js';

export type ContextEntry =
  | { type: 'file'; name: string; content: string | Buffer; mode?: number }
  /** A file copied from the host at pack time (the node binary, its libraries, busybox). */
  | { type: 'host-file'; name: string; hostPath: string; mode?: number }
  | { type: 'directory'; name: string; mode?: number }
  | { type: 'symlink'; name: string; target: string };

export interface BuildContext {
  dockerfile: string;
  entries: readonly ContextEntry[];
  buildArgs?: Readonly<Record<string, string>>;
}

const DEFAULT_MODE = { file: 0o644, 'host-file': 0o755, directory: 0o755 } as const;

function sortedEntries(ctx: BuildContext): ContextEntry[] {
  return [...ctx.entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const STREAM_ABOVE_BYTES = 8 * 1024 * 1024;

async function hashHostFile(path: string): Promise<string> {
  const h = createHash('sha256');
  // Small files (npm has ~2000) in one read; big ones (node is ~100 MB) streamed.
  if ((await stat(path)).size <= STREAM_ABOVE_BYTES) return h.update(await readFile(path)).digest('hex');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

function entryDigest(e: ContextEntry): Promise<string> {
  if (e.type === 'host-file') return hashHostFile(e.hostPath);
  if (e.type === 'file') return Promise.resolve(createHash('sha256').update(e.content).digest('hex'));
  return Promise.resolve('');
}

/** sha256 over everything that reaches the builder: Dockerfile, build args, entry names, modes and bytes. */
export async function hashContext(ctx: BuildContext): Promise<string> {
  const h = createHash('sha256');
  const field = (s: string) => h.update(`${s.length}:${s}\n`);
  field(ctx.dockerfile);
  for (const [k, v] of Object.entries(ctx.buildArgs ?? {}).sort()) field(`arg ${k}=${v}`);
  const entries = sortedEntries(ctx);
  const digests = await mapLimited(entries, 32, entryDigest);
  entries.forEach((e, i) => {
    field(`${e.type} ${e.name}`);
    field(e.type === 'symlink' ? e.target : String(e.mode ?? DEFAULT_MODE[e.type]));
    field(digests[i]!);
  });
  return h.digest('hex');
}

// Fixed mtimes: the tar bytes depend only on the content, like the tag does.
const MTIME = new Date('2020-01-01T00:00:00Z');

function addEntry(
  pack: tar.Pack,
  header: tar.Header | (Omit<Partial<tar.Header>, 'mtime'> & { name: string }),
  body?: string | Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ mtime: MTIME, ...header }, body ?? '', (err) => (err ? reject(err) : resolve()));
  });
}

async function addHostFile(pack: tar.Pack, e: Extract<ContextEntry, { type: 'host-file' }>): Promise<void> {
  const { size } = await stat(e.hostPath);
  const header = { name: e.name, size, mode: e.mode ?? DEFAULT_MODE['host-file'], mtime: MTIME };
  let sink: ReturnType<tar.Pack['entry']> | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  // The entry sink is a streamx stream, not a Node one: write with backpressure by hand.
  for await (const chunk of createReadStream(e.hostPath)) {
    if (!sink!.write(chunk as Buffer)) await new Promise<void>((resolve) => sink!.once('drain', () => resolve()));
  }
  sink!.end(undefined);
  await finished;
}

/** The context as a tar stream; large host files are streamed, not buffered. */
export function packContext(ctx: BuildContext): Readable {
  const pack = tar.pack();
  const fill = async () => {
    await addEntry(pack, { name: 'Dockerfile', mode: 0o644 }, ctx.dockerfile);
    for (const e of sortedEntries(ctx)) {
      if (e.type === 'file') await addEntry(pack, { name: e.name, mode: e.mode ?? DEFAULT_MODE.file }, e.content);
      else if (e.type === 'directory')
        await addEntry(pack, { name: e.name, type: 'directory', mode: e.mode ?? DEFAULT_MODE.directory });
      else if (e.type === 'symlink') await addEntry(pack, { name: e.name, type: 'symlink', linkname: e.target });
      else await addHostFile(pack, e);
    }
    pack.finalize();
  };
  fill().catch((err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))));
  // tar-stream 3 yields a streamx stream; wrap it so Docker's HTTP client gets a plain Node Readable.
  return Readable.from(pack);
}
