import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BUNDLE_LIMITS, DomainError, ErrorCode, Labels, type BundleLimits } from '@sidecar/core';
import { prepareBundle, type DependencyInstaller } from './prepare.js';
import { tgzOf } from './test-support/tar.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-prepare-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Records what an installer was asked to do; the real one (Docker + npm) has its own test. */
class RecordingInstaller implements DependencyInstaller {
  calls: string[] = [];
  async install({ dir: bundleDir }: { dir: string }): Promise<void> {
    this.calls.push(bundleDir);
  }
}

async function prepare(
  files: Record<string, string>,
  installer?: DependencyInstaller,
  limits: Partial<BundleLimits> = {},
) {
  const source = join(dir, 'upload.tgz');
  await writeFile(source, await tgzOf(files));
  const lines: string[] = [];
  const result = await prepareBundle({
    source,
    workDir: join(dir, 'work'),
    limits: { ...DEFAULT_BUNDLE_LIMITS, ...limits },
    labels: { [Labels.app]: 'demo' },
    signal: new AbortController().signal,
    log: (l) => lines.push(l),
    ...(installer ? { installer } : {}),
  });
  return { ...result, lines };
}

describe('prepareBundle', () => {
  it('detects a handler entry and writes .sidecar/manifest.json', async () => {
    const {
      dir: bundle,
      manifest,
      files,
      lines,
    } = await prepare({ 'app/index.js': 'module.exports = (req, res) => res.end("hi")' });
    expect(manifest).toEqual({ runtime: 'node', mode: 'handler', entry: 'index.js' });
    expect(files).toEqual(['index.js']);
    expect(JSON.parse(await readFile(join(bundle, '.sidecar/manifest.json'), 'utf8'))).toEqual(manifest);
    expect(lines).toContain('detected handler entry index.js');
    expect(lines).toContain('stripped the wrapping folder "app/"');
  });

  it('follows sidecar.json entry over package.json main', async () => {
    const { manifest } = await prepare({
      'sidecar.json': '{"entry": "./src/main.js"}',
      'package.json': '{"main": "other.js"}',
      'src/main.js': '',
      'other.js': '',
    });
    expect(manifest).toEqual({ runtime: 'node', mode: 'handler', entry: 'src/main.js' });
  });

  it('detects process mode and static sites', async () => {
    expect(
      (await prepare({ 'package.json': '{"scripts": {"start": "node server.mjs"}}', 'server.mjs': '' })).manifest,
    ).toEqual({
      runtime: 'node',
      mode: 'process',
      start: 'node server.mjs',
    });
    await rm(join(dir, 'work'), { recursive: true });
    const site = await prepare({ 'index.html': '<h1>hi</h1>' });
    expect(site.manifest).toEqual({ runtime: 'node', mode: 'static', root: '.' });
    expect(site.lines).toContain('detected a static site (index.html)');
  });

  it('installs dependencies when package.json declares them and no node_modules ships', async () => {
    const installer = new RecordingInstaller();
    const { dir: bundle, lines } = await prepare(
      { 'package.json': '{"dependencies": {"ms": "^2.1.3"}}', 'index.js': '' },
      installer,
    );
    expect(installer.calls).toEqual([bundle]);
    expect(lines).toContain('installing 1 dependency with npm');
  });

  it('skips the install when node_modules ships in the bundle', async () => {
    const installer = new RecordingInstaller();
    const { lines } = await prepare(
      {
        'package.json': '{"dependencies": {"ms": "^2.1.3", "debug": "^4"}}',
        'index.js': '',
        'node_modules/ms/index.js': '',
      },
      installer,
    );
    expect(installer.calls).toEqual([]);
    expect(lines).toContain('using the node_modules folder shipped in the bundle');
  });

  it('rejects invalid package.json naming the file', async () => {
    const err = await prepare({ 'package.json': '{"main": "index.js",}', 'index.js': '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('bundle_invalid');
    expect((err as DomainError).message).toMatch(/^package\.json is not valid JSON: /);
  });

  it('rejects a bundle with no entry', async () => {
    const err = (await prepare({ 'README.md': '# hi' }).catch((e: unknown) => e)) as DomainError;
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/no entry found/);
  });

  it('replaces a .sidecar/ shipped in the bundle instead of writing through it', async () => {
    const { dir: bundle } = await prepare({ 'index.js': '', '.sidecar/manifest.json': '{"mode":"evil"}' });
    expect(JSON.parse(await readFile(join(bundle, '.sidecar/manifest.json'), 'utf8'))).toMatchObject({
      mode: 'handler',
    });
  });

  it("drops the bundle's .npmrc before installing, and says so", async () => {
    const installer = new RecordingInstaller();
    const { dir: bundle, lines } = await prepare(
      {
        'package.json': '{"dependencies": {"ms": "^2.1.3"}}',
        'index.js': '',
        '.npmrc': 'registry=http://evil.example/\n',
        '.yarnrc': 'registry "http://evil.example/"\n',
      },
      installer,
    );
    expect(existsSync(join(bundle, '.npmrc'))).toBe(false);
    expect(lines).toContain(
      "ignored the bundle's .npmrc (left out of the build and the image): npm runs with the platform's registry, proxy and TLS settings",
    );
    expect(lines).toContain('ignored .yarnrc: dependencies are installed with npm, which does not read it');
  });

  it('refuses a git dependency before running npm', async () => {
    const installer = new RecordingInstaller();
    const err = (await prepare(
      { 'package.json': '{"dependencies": {"x": "github:someone/x"}}', 'index.js': '' },
      installer,
    ).catch((e: unknown) => e)) as DomainError;
    expect(err.code).toBe('bundle_invalid');
    expect(err.message).toMatch(/"x" is a git dependency/);
    expect(installer.calls).toEqual([]);
  });

  it('fails a build whose installed dependencies make it larger than maxBuildBytes', async () => {
    // What the installer writes counts: here a 2 MiB "dependency" against a 1 MiB cap.
    const bloating: DependencyInstaller = {
      async install({ dir: bundle }) {
        await mkdir(join(bundle, 'node_modules', 'big'), { recursive: true });
        await writeFile(join(bundle, 'node_modules', 'big', 'blob.bin'), Buffer.alloc(2 * 1024 * 1024, 1));
      },
    };
    const err = (await prepare({ 'package.json': '{"dependencies": {"big": "^1"}}', 'index.js': '' }, bloating, {
      maxBuildBytes: 1024 * 1024,
    }).catch((e: unknown) => e)) as DomainError;
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(
      /^the bundle with its installed dependencies is more than 1 MiB \(the limit, SIDECAR_MAX_BUILD_BYTES\)/,
    );
  });

  it('stops an install whose folder grows past maxBuildBytes while it runs', async () => {
    // Writes past the cap, then keeps going until it is told to stop (as npm would, for gigabytes).
    let stoppedBy: unknown;
    const endless: DependencyInstaller = {
      async install({ dir: bundle, signal }) {
        await mkdir(join(bundle, 'node_modules', 'big'), { recursive: true });
        await writeFile(join(bundle, 'node_modules', 'big', 'blob.bin'), Buffer.alloc(2 * 1024 * 1024, 1));
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        stoppedBy = signal.reason;
        throw new DomainError(ErrorCode.cancelled, 'dependency install cancelled');
      },
    };
    const err = (await prepare({ 'package.json': '{"dependencies": {"big": "^1"}}', 'index.js': '' }, endless, {
      maxBuildBytes: 1024 * 1024,
    }).catch((e: unknown) => e)) as DomainError;
    expect(err.code).toBe('bundle_too_large');
    expect(err.message).toMatch(
      /^npm install was stopped: the bundle with its installed dependencies grew past 1 MiB \(the limit, SIDECAR_MAX_BUILD_BYTES\)/,
    );
    expect(stoppedBy).toBeGreaterThan(1024 * 1024); // the watch's reason: the size it measured
  });

  it('reports a cancellation as a cancellation, not as a size', async () => {
    const ac = new AbortController();
    const cancelling: DependencyInstaller = {
      async install({ signal }) {
        ac.abort();
        expect(signal.aborted).toBe(true);
        throw new DomainError(ErrorCode.cancelled, 'dependency install cancelled');
      },
    };
    const source = join(dir, 'upload.tgz');
    await writeFile(source, await tgzOf({ 'package.json': '{"dependencies": {"ms": "^2"}}', 'index.js': '' }));
    const err = (await prepareBundle({
      source,
      workDir: join(dir, 'work'),
      limits: DEFAULT_BUNDLE_LIMITS,
      labels: { [Labels.app]: 'demo' },
      signal: ac.signal,
      log: () => undefined,
      installer: cancelling,
    }).catch((e: unknown) => e)) as DomainError;
    expect(err.code).toBe('cancelled');
  });
});
