/**
 * The platform's native programs (the log shipper, runtime-image/log-shipper/*.c), compiled on
 * this machine when the images are built: one static binary, libc only, so its image is FROM
 * scratch with nothing else in it. The result is kept in a cache folder named by a hash of the
 * sources and flags: same sources → same binary → same image tag, and no compile on a warm start.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** C11 with the GNU extensions of glibc (ppoll, strerrorname_np), small and stripped. */
export const STATIC_C_FLAGS = ['-std=c11', '-D_GNU_SOURCE', '-static', '-Os', '-s', '-Wall', '-Wextra'] as const;

/** What Debian installs a static C toolchain from (prepare-host.sh installs them when missing). */
export const C_TOOLCHAIN_PACKAGES = 'gcc libc6-dev';

export class NativeBuildError extends Error {
  readonly code = 'NATIVE_BUILD_FAILED';
}

export interface StaticBinaryOptions {
  /** A folder of `.c` and `.h` files that make one program. */
  sourceDir: string;
  /** The program's name: the cached binary is `<name>-<hash>`. */
  name: string;
  /** The C compiler; `cc` on PATH by default. */
  cc?: string;
  /** Where compiled binaries are kept; a folder under the OS temp dir by default. */
  cacheDir?: string;
}

/** Compiles the folder's C files into one static binary (or finds it compiled) and returns its path. */
export async function staticBinary(o: StaticBinaryOptions): Promise<string> {
  const names = (await readdir(o.sourceDir)).filter((n) => /\.[ch]$/.test(n)).sort();
  const sources = names.filter((n) => n.endsWith('.c')).map((n) => join(o.sourceDir, n));
  if (sources.length === 0) throw new NativeBuildError(`no C sources in ${o.sourceDir}`);
  const hash = createHash('sha256').update(STATIC_C_FLAGS.join(' '));
  for (const n of names) hash.update(`\n${n}\n`).update(await readFile(join(o.sourceDir, n)));
  const cacheDir = o.cacheDir ?? join(tmpdir(), 'sidecar-native');
  const binary = join(cacheDir, `${o.name}-${hash.digest('hex').slice(0, 16)}`);
  if (await exists(binary)) return binary;

  await mkdir(cacheDir, { recursive: true });
  // Compiled under a name of its own and renamed: concurrent builds never see half a binary.
  const partial = `${binary}.${process.pid}.${Date.now()}.tmp`;
  const cc = o.cc ?? 'cc';
  try {
    await run(cc, [...STATIC_C_FLAGS, '-o', partial, ...sources]);
  } catch (e) {
    await rm(partial, { force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT')
      throw new NativeBuildError(
        `no C compiler (\`${cc}\`) to build the ${o.name} image: install Debian's ${C_TOOLCHAIN_PACKAGES} ` +
          `(\`apt-get install ${C_TOOLCHAIN_PACKAGES}\`, or run scripts/prepare-host.sh)`,
        { cause: e },
      );
    throw new NativeBuildError(
      `compiling ${o.name} failed (a static build needs libc.a: Debian's libc6-dev):\n${err.stderr ?? err.message}`,
      { cause: e },
    );
  }
  await rename(partial, binary);
  return binary;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
