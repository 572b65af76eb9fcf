import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { create } from 'tar';

/** Folders never packed unless asked for: version control, and dependencies the build installs. */
const HEAVY = { git: '.git', nodeModules: 'node_modules' } as const;
/** Files that tell what to leave out, read in every folder (rules relative to that folder, as git's). */
const IGNORE_FILES = ['.gitignore', '.sidecarignore'] as const;
/** The CLI's own note of the app a folder deploys as; not part of the app. */
export const LINK_FILE = '.sidecar.json';

export interface PackOptions {
  includeGit?: boolean;
  includeNodeModules?: boolean;
}

/** The files of `dir` that a deploy sends (paths relative to it, `/`-separated), in a stable order. */
export async function bundleFiles(dir: string, opts: PackOptions = {}): Promise<string[]> {
  const root = await stat(dir);
  if (!root.isDirectory()) throw new Error(`${dir} is not a folder`);
  const files: string[] = [];
  const walk = async (rel: string, rules: Array<{ base: string; ig: Ignore }>): Promise<void> => {
    const abs = join(dir, rel);
    const here = await rulesOf(abs, rel);
    const scoped = here ? [...rules, here] : rules;
    const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const isDir = e.isDirectory();
      if (rel === '' && e.name === LINK_FILE) continue;
      if (isDir && e.name === HEAVY.git && !opts.includeGit) continue;
      if (isDir && e.name === HEAVY.nodeModules && !opts.includeNodeModules) continue;
      if (ignored(scoped, path, isDir)) continue;
      if (isDir) await walk(path, scoped);
      else if (e.isFile() || e.isSymbolicLink()) files.push(path);
    }
  };
  await walk('', []);
  return files;
}

async function rulesOf(abs: string, rel: string): Promise<{ base: string; ig: Ignore } | undefined> {
  const texts = await Promise.all(
    IGNORE_FILES.map((f) =>
      readFile(join(abs, f), 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'EISDIR') return '';
        throw e;
      }),
    ),
  );
  const text = texts.filter(Boolean).join('\n');
  return text ? { base: rel, ig: ignore().add(text) } : undefined;
}

/** Ignored by the rules of any folder above it, each applied to the path relative to that folder. */
function ignored(rules: Array<{ base: string; ig: Ignore }>, path: string, isDir: boolean): boolean {
  return rules.some(({ base, ig }) => {
    const rel = base ? path.slice(base.length + 1) : path;
    return ig.ignores(isDir ? `${rel}/` : rel);
  });
}

/** Packs `dir` as a tar.gz at `file`; answers what went in. Symlinks stay links (the platform checks them). */
export async function packBundle(
  dir: string,
  file: string,
  opts: PackOptions = {},
): Promise<{ files: number; bytes: number }> {
  const files = await bundleFiles(dir, opts);
  if (files.length === 0) throw new Error(`nothing to deploy in ${dir}: every file there is ignored`);
  await create({ gzip: true, file, cwd: dir, portable: true, noDirRecurse: true }, files);
  return { files: files.length, bytes: (await lstat(file)).size };
}
