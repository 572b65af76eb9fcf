import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { list } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFiles, packBundle } from './pack.js';

let dir: string;
const tree = async (root: string, files: Record<string, string>) => {
  for (const [f, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, f)), { recursive: true });
    await writeFile(join(root, f), text);
  }
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-pack-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('what a deploy packs', () => {
  it('honours .gitignore and .sidecarignore in every folder, as git reads them, and never .git or node_modules', async () => {
    const app = join(dir, 'app');
    await tree(app, {
      'index.js': '',
      '.gitignore': '*.log\n/build/\n!keep.log\n',
      '.sidecarignore': 'docs/\n',
      'a.log': '',
      'keep.log': '',
      'build/out.js': '',
      'lib/build/x.js': '', // `/build/` is anchored: only the top-level one goes
      'docs/readme.md': '',
      'lib/.gitignore': 'secret.json\n',
      'lib/secret.json': '',
      'lib/util.js': '',
      '.git/HEAD': '',
      'node_modules/x/index.js': '',
      'lib/node_modules/y/index.js': '',
      '.sidecar.json': '{"app":"x"}',
    });
    await symlink('index.js', join(app, 'link.js'));
    expect(await bundleFiles(app)).toEqual([
      '.gitignore',
      '.sidecarignore',
      'index.js',
      'keep.log',
      'lib/.gitignore',
      'lib/build/x.js',
      'lib/util.js',
      'link.js',
    ]);
    expect(await bundleFiles(app, { includeGit: true, includeNodeModules: true })).toEqual(
      expect.arrayContaining(['.git/HEAD', 'node_modules/x/index.js', 'lib/node_modules/y/index.js']),
    );
  });

  it('writes a tar.gz of exactly those files, relative to the folder', async () => {
    const app = join(dir, 'small');
    await tree(app, { 'index.js': 'module.exports = () => {}', '.gitignore': 'tmp/\n', 'tmp/x': '' });
    const file = join(dir, 'small.tgz');
    const packed = await packBundle(app, file);
    const entries: string[] = [];
    await list({ file, onReadEntry: (e) => entries.push(e.path) });
    expect(entries.sort()).toEqual(['.gitignore', 'index.js']);
    expect(packed.files).toBe(2);
  });

  it('refuses a folder where everything is ignored', async () => {
    const app = join(dir, 'empty');
    await tree(app, { '.gitignore': '*\n' });
    await expect(packBundle(app, join(dir, 'empty.tgz'))).rejects.toThrow(/nothing to deploy/);
  });
});
