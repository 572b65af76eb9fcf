import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainError, ErrorCode } from '@sidecar/core';

/**
 * Uploaded bundles, content-addressed on the filesystem (the default blob store).
 * Writes go to a temp file and are renamed into place, so a reader never sees half a bundle.
 */
export class FsBlobStore {
  constructor(private readonly root: string) {}

  path(digest: string): string {
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new Error(`not a digest: ${digest}`);
    return join(this.root, 'sha256', digest.slice(7));
  }

  /** Stores a stream, refusing it once it exceeds maxBytes. */
  async put(body: Readable, maxBytes: number): Promise<{ digest: string; size: number }> {
    await mkdir(join(this.root, 'sha256'), { recursive: true });
    const tmp = join(this.root, `.upload-${randomUUID()}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > maxBytes) {
          cb(new DomainError(ErrorCode.bundleTooLarge, `bundle is larger than the limit of ${maxBytes} bytes`));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tmp));
      const digest = `sha256:${hash.digest('hex')}`;
      await rename(tmp, this.path(digest));
      return { digest, size };
    } catch (e) {
      await rm(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC')
        throw new DomainError(
          ErrorCode.insufficientStorage,
          "no space left on the platform's disk to store the bundle; upload again once space is freed",
          { retryable: true, cause: e },
        );
      throw e;
    }
  }

  async exists(digest: string): Promise<boolean> {
    return stat(this.path(digest)).then(
      () => true,
      () => false,
    );
  }
}
