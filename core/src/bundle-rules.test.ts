import { describe, expect, it } from 'vitest';
import { detectManifest, needsDependencyInstall } from './bundle-rules.js';
import { DomainError } from './errors.js';

const files = (...names: string[]) => new Set(names);

describe('detectManifest (API.md "The bundle")', () => {
  it('uses sidecar.json start for process mode', () => {
    expect(detectManifest({ files: files('server.js'), sidecarJson: { start: 'node server.js' } })).toEqual({
      runtime: 'node',
      mode: 'process',
      start: 'node server.js',
    });
  });
  it('prefers sidecar.json entry, then package.json main, then the first candidate', () => {
    expect(
      detectManifest({ files: files('src/main.js', 'index.js'), sidecarJson: { entry: 'src/main.js' } }),
    ).toMatchObject({ mode: 'handler', entry: 'src/main.js' });
    expect(
      detectManifest({ files: files('lib/app.js', 'index.js'), packageJson: { main: './lib/app.js' } }),
    ).toMatchObject({ entry: 'lib/app.js' });
    expect(detectManifest({ files: files('app.js', 'server.js') })).toMatchObject({ entry: 'server.js' });
    expect(detectManifest({ files: files('index.mjs', 'index.cjs') })).toMatchObject({ entry: 'index.mjs' });
  });
  it('falls back to scripts.start, then a static index.html', () => {
    expect(
      detectManifest({ files: files('srv.js'), packageJson: { scripts: { start: 'node srv.js' } } }),
    ).toMatchObject({ mode: 'process', start: 'node srv.js' });
    expect(detectManifest({ files: files('index.html', 'style.css') })).toEqual({
      runtime: 'node',
      mode: 'static',
      root: '.',
    });
  });
  it('names the problem when nothing can be served', () => {
    expect(() => detectManifest({ files: files('README.md') })).toThrow(/no entry found/);
    expect(() => detectManifest({ files: files('a.js'), sidecarJson: { entry: 'missing.js' } })).toThrow(
      /entry "missing.js" is not a file/,
    );
    expect(() => detectManifest({ files: files('a.js'), sidecarJson: { runtime: 'python' } })).toThrow(
      /runtime "python" is not supported/,
    );
    expect(() => detectManifest({ files: files('a.js'), packageJson: [] })).toThrow(DomainError);
  });
});

describe('needsDependencyInstall', () => {
  it('is true for declared dependencies without node_modules only', () => {
    expect(needsDependencyInstall({ files: files('index.js'), packageJson: { dependencies: { express: '^4' } } })).toBe(
      true,
    );
    expect(
      needsDependencyInstall({
        files: files('index.js', 'node_modules/express/index.js'),
        packageJson: { dependencies: { express: '^4' } },
      }),
    ).toBe(false);
    expect(needsDependencyInstall({ files: files('index.js'), packageJson: { dependencies: {} } })).toBe(false);
    expect(needsDependencyInstall({ files: files('index.js') })).toBe(false);
  });
});
