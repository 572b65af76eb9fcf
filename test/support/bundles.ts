import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import yazl from 'yazl';

export type Files = Record<string, string>;
/** A tar entry header, as tar-stream's pack takes it. */
export type TarHeader = Parameters<ReturnType<typeof tar.pack>['entry']>[0];

/** A tar of the given files, optionally under one wrapping folder (as `tar czf x.tgz folder/` makes). */
export async function tarOf(files: Files, opts: { wrap?: string } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, content] of Object.entries(files)) {
    pack.entry({ name: opts.wrap ? `${opts.wrap}/${name}` : name, mode: 0o644 }, content);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function tgzOf(files: Files, opts: { wrap?: string } = {}): Promise<Buffer> {
  return gzipSync(await tarOf(files, opts));
}

export async function zipOf(files: Files): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) zip.addBuffer(Buffer.from(content), name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A raw tar entry list, for crafting hostile archives (links, devices, traversal). */
export async function rawTar(entries: Array<{ header: TarHeader; content?: string | Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) pack.entry(e.header, e.content ?? '');
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
