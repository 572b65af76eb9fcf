import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PlatformImages } from '@sidecar/runtime-image';

/**
 * The platform images, ensured on the engine by a short-lived child process (runtime-image's
 * build-images.js) rather than in the launcher: building them hashes and tars build contexts (the
 * Node binary among them), and a Node process keeps the heap it grew for that. In the launcher it
 * stayed resident for the platform's whole life (~100 MiB of the launcher's 150 MiB, measured with
 * `npm run bench:density`); in a child it is given back when the child exits.
 */
export function ensureImagesInChild(opts: {
  root: string;
  dockerSocket: string;
  log: (line: string) => void;
}): Promise<PlatformImages> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [join(opts.root, 'runtime-image/dist/images/build-images.js')],
      { env: { ...process.env, SIDECAR_DOCKER_SOCKET: opts.dockerSocket }, maxBuffer: 1024 * 1024 },
      (error, stdout) => {
        if (error) {
          reject(
            new Error(`ensuring the platform images failed (${error.message.split('\n')[0]}); see the lines above`),
          );
          return;
        }
        try {
          resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as PlatformImages);
        } catch (e) {
          reject(new Error(`ensuring the platform images printed no result: ${String(e)}`));
        }
      },
    );
    // Its progress (stderr, a line each) goes to the launcher's log as it comes.
    if (child.stderr) createInterface({ input: child.stderr }).on('line', opts.log);
  });
}
