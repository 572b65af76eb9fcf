import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack, type Pack } from 'tar-stream';

export interface ExtraFile {
  name: string;
  content: string;
}

/** Extra files have no file to take a time from (tar-stream's default, the current time, would differ per pass). */
const EXTRA_FILE_TIME = new Date(0);

/**
 * Streams a folder as a tar with every entry under `prefix/`, owned by root and
 * readable by everyone (dirs 0755, files 0644 or 0755): the image runs as an
 * unprivileged user and must read all of it. Symlinks are packed as links,
 * never followed, so nothing outside the folder can leak in. The same folder gives the
 * same bytes each time (every entry's time is its file's, extra files' a fixed one): a
 * logic image's layer is digested in one pass and sent in another (image-archive.ts).
 */
export function packFolder(opts: { dir: string; prefix: string; extraFiles?: ExtraFile[] }): NodeJS.ReadableStream {
  const tar = pack();
  void (async () => {
    for (const extra of opts.extraFiles ?? []) {
      await add(
        tar,
        { name: extra.name, type: 'file', mode: 0o644, mtime: EXTRA_FILE_TIME },
        Buffer.from(extra.content),
      );
    }
    const { mtime } = await lstat(opts.dir);
    await add(tar, { name: `${opts.prefix}/`, type: 'directory', mode: 0o755, mtime });
    await walk(tar, opts.dir, opts.prefix);
    tar.finalize();
  })().catch((err: unknown) => tar.destroy(err as Error));
  return tar as unknown as NodeJS.ReadableStream; // a streamx Readable; Docker clients take it as a Node stream
}

async function walk(tar: Pack, dir: string, prefix: string): Promise<void> {
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const path = join(dir, name);
    const archiveName = `${prefix}/${name}`;
    const stat = await lstat(path);
    if (stat.isDirectory()) {
      await add(tar, { name: `${archiveName}/`, type: 'directory', mode: 0o755, mtime: stat.mtime });
      await walk(tar, path, archiveName);
    } else if (stat.isSymbolicLink()) {
      const link = { name: archiveName, type: 'symlink', linkname: await readlink(path), mode: 0o777 } as const;
      await add(tar, { ...link, mtime: stat.mtime });
    } else if (stat.isFile()) {
      const mode = stat.mode & 0o111 ? 0o755 : 0o644;
      const entry = tar.entry({
        name: archiveName,
        type: 'file',
        size: stat.size,
        mode,
        uid: 0,
        gid: 0,
        mtime: stat.mtime,
      });
      await pipeline(createReadStream(path), entry);
    } else {
      throw new Error(`cannot pack ${path}: not a file, folder or symlink`);
    }
  }
}

function add(
  tar: Pack,
  header: { name: string; type: 'file' | 'directory' | 'symlink'; mode: number; linkname?: string; mtime: Date },
  body?: Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.entry({ ...header, uid: 0, gid: 0, uname: 'root', gname: 'root' }, body ?? Buffer.alloc(0), (err) =>
      err ? reject(err) : resolve(),
    );
  });
}
