import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/** A tar entry header as tar-stream's pack takes it, with the entry's content. */
export type TarEntry = Parameters<ReturnType<typeof pack>['entry']>[0] & { content?: string | Buffer };

/** A real tar archive of `entries`, crafted with the library users' tools are compatible with. */
export async function tarBuffer(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => p.on('end', () => resolve()));
  for (const { content, ...header } of entries) {
    await new Promise<void>((resolve, reject) =>
      p.entry(header, content ?? '', (err) => (err ? reject(err) : resolve())),
    );
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** A gzipped tar of plain files. */
export async function tgzOf(files: Record<string, string>): Promise<Buffer> {
  return gzipSync(await tarBuffer(Object.entries(files).map(([name, content]) => ({ name, content }))));
}
