import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDomainError, renderAppManifests, type BuildInput } from '@sidecar/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGES, docker, ensureTestImages } from '@sidecar/kubelet/test-support';
import { PublishingImageBuilder, RegistryImagePublisher } from './registry.js';
import { ensureRegistryBinary, freePort } from './kubernetes/deploy-manifests.js';
import { testApp, testRelease, testSettings } from './kubernetes/test-support.js';

/**
 * Publishing logic images to a real registry: Debian's `docker-registry` (the CNCF
 * distribution registry) on 127.0.0.1:<free port> with its own storage, the real Docker
 * engine pushing to it, and the registry's HTTP API as the judge of the digest.
 */
const d = docker();
const dir = mkdtempSync(join(tmpdir(), 'sidecar-registry-test-'));
let registry: ChildProcess | undefined;
let host = '';

/** Resolves once the registry answers `GET /v2/` (its API version check), bounded by the hook timeout. */
async function registryAnswers(): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (registry?.exitCode !== null) throw new Error(`docker-registry exited with ${registry?.exitCode}`);
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error('docker-registry did not answer within 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  ensureRegistryBinary();
  await ensureTestImages(d);
  const port = await freePort();
  host = `127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: ${host}`,
    ].join('\n'),
  );
  registry = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  await registryAnswers();
});

afterAll(async () => {
  registry?.kill('SIGTERM');
  for (const ref of [`${host}/sidecar-test-logic:ok-2`, `${host}/sidecar-test-runtime:1`])
    await d
      .getImage(ref)
      .remove()
      .catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

const registryDigest = async (repo: string, tag: string) => {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  expect(res.status).toBe(200);
  return res.headers.get('docker-content-digest');
};

describe('RegistryImagePublisher against a real registry', () => {
  it('pushes the logic image and returns the digest the registry serves it under', async () => {
    const published = await new RegistryImagePublisher({ docker: d, registry: host }).publish(TEST_IMAGES.logic);
    expect(published.tag).toBe(`${host}/sidecar-test-logic:ok-2`);
    expect(published.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await registryDigest('sidecar-test-logic', 'ok-2')).toBe(published.digest);
    expect(published.ref).toBe(`${host}/sidecar-test-logic@${published.digest}`);
  });

  it('the rendered Deployment references the pushed logic image by registry digest', async () => {
    const logs: string[] = [];
    const inner = { build: async (_: BuildInput) => ({ image: TEST_IMAGES.logic, digest: 'sha256:local-image-id' }) };
    const builder = new PublishingImageBuilder(inner, new RegistryImagePublisher({ docker: d, registry: host }));
    const built = await builder.build({
      app: 'hello',
      deployId: 'd_1',
      bundleDir: dir,
      manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
      signal: new AbortController().signal,
      log: (l) => logs.push(l),
    });
    const digest = await registryDigest('sidecar-test-logic', 'ok-2');
    expect(built).toEqual({ image: `${host}/sidecar-test-logic:ok-2`, digest });
    expect(logs).toContain(`pushed ${host}/sidecar-test-logic@${digest}`);
    const release = testRelease('hello', 1, { image: built.image, imageDigest: built.digest });
    const deployment = renderAppManifests({
      app: testApp('hello'),
      release,
      settings: { ...testSettings, registry: host },
    }).find((m) => m.kind === 'Deployment')!;
    expect(deployment.kind === 'Deployment' && deployment.spec.template.spec.initContainers![0]!.image).toBe(
      `${host}/sidecar-test-logic@${digest}`,
    );
  });

  it("publishIfAbsent pushes a content-hash tag once: later calls take the registry's digest without pushing", async () => {
    const tag = `sidecar-test-once:${Date.now().toString(36)}`;
    await d.getImage(TEST_IMAGES.base).tag({ repo: 'sidecar-test-once', tag: tag.split(':')[1]! });
    const publisher = new RegistryImagePublisher({ docker: d, registry: host });
    const first = await publisher.publishIfAbsent(tag);
    expect(await registryDigest('sidecar-test-once', tag.split(':')[1]!)).toBe(first.digest);
    // With no local image left there is nothing that could be pushed: the answer can only come from the registry.
    for (const ref of [tag, `${host}/${tag}`]) await d.getImage(ref).remove();
    const logs: string[] = [];
    expect(await publisher.publishIfAbsent(tag, { log: (l) => logs.push(l) })).toEqual(first);
    expect(logs).toEqual([`${host}/${tag} is in the registry already (${first.digest})`]);
  });

  it("publishIfAbsent pushes a mutable tag again once it names another local image (the registry's digest is not the local one's)", async () => {
    const tag = `m${Date.now().toString(36)}`;
    const ref = `sidecar-test-mutable:${tag}`;
    await d.getImage(TEST_IMAGES.base).tag({ repo: 'sidecar-test-mutable', tag });
    const publisher = new RegistryImagePublisher({ docker: d, registry: host });
    const first = await publisher.publishIfAbsent(ref);
    // The operator rebuilds the image under the same tag (an overridden SIDECAR_TLS_TERMINATOR_IMAGE, say).
    await d.getImage(TEST_IMAGES.runtime).tag({ repo: 'sidecar-test-mutable', tag });
    const logs: string[] = [];
    const second = await publisher.publishIfAbsent(ref, { log: (l) => logs.push(l) });
    expect(second.digest).not.toBe(first.digest);
    expect(await registryDigest('sidecar-test-mutable', tag)).toBe(second.digest);
    expect(logs[0]).toBe(`${host}/${ref} in the registry (${first.digest}) is not the local ${ref}: pushing it again`);
    // Unchanged since: not pushed again.
    const third: string[] = [];
    expect(await publisher.publishIfAbsent(ref, { log: (l) => third.push(l) })).toEqual(second);
    expect(third).toEqual([`${host}/${ref} is in the registry already (${second.digest})`]);
    for (const r of [ref, `${host}/${ref}`])
      await d
        .getImage(r)
        .remove()
        .catch(() => undefined);
  });

  it("a push the registry cannot take fails the build as retryable, with the engine's message", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const err = await new RegistryImagePublisher({ docker: d, registry: closed }).publish(TEST_IMAGES.runtime).then(
      () => undefined,
      (e: unknown) => e,
    );
    await d
      .getImage(`${closed}/sidecar-test-runtime:1`)
      .remove()
      .catch(() => undefined);
    expect(isDomainError(err) && err.code).toBe('build_failed');
    expect(isDomainError(err) && err.retryable).toBe(true);
    expect((err as Error).message).toMatch(
      new RegExp(`pushing ${closed}/sidecar-test-runtime:1 failed: .*(refused|connect)`),
    );
  });
});
