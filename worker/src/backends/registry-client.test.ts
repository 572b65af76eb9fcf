import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRegistryBinary, freePort, Program } from './kubernetes/deploy-manifests.js';
import { RegistryImagePublisher } from './registry.js';
import { MANIFEST_TYPES, ManifestDeletion, nextPage, RegistryClient } from './registry-client.js';
import { registryBaseUrl } from './registry-scheme.js';

/**
 * The registry client against the real distribution registry of this host (Debian's docker-registry,
 * deletion on, no authentication: deploy-registry-retention.test.ts runs it with registry.yaml's),
 * with images pushed by the real engine.
 */
const d = docker();
const dir = mkdtempSync(join(tmpdir(), 'sidecar-registry-client-'));
const repo = uniqueName('sidecar-test-client');
let registry: Program;
let host = '';
let client: RegistryClient;
const pushed: string[] = [];

async function push(local: string, tag: string): Promise<string> {
  await d.getImage(local).tag({ repo, tag });
  pushed.push(`${repo}:${tag}`, `${host}/${repo}:${tag}`);
  return (await new RegistryImagePublisher({ docker: d, registry: host }).publish(`${repo}:${tag}`)).digest;
}

beforeAll(async () => {
  ensureRegistryBinary();
  await ensureTestImages(d);
  host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  delete:',
      '    enabled: true',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: ${host}`,
    ].join('\n'),
  );
  registry = new Program('docker-registry', ['serve', config]);
  await registry.until(async () => (await fetch(`http://${host}/v2/`)).ok, 'the registry answers');
  client = new RegistryClient({ baseUrl: await registryBaseUrl(d, host), pageSize: 2 });
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const ref of pushed)
    await d
      .getImage(ref)
      .remove()
      .catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('RegistryClient against a real registry', () => {
  it('lists every tag of a repository and none for an unknown one (404 NAME_UNKNOWN)', async () => {
    for (const tag of ['t1', 't2', 't3']) await push(TEST_IMAGES.base, tag);
    // This registry (2.8) answers every tag at once whatever `n` asks: pagination is shown by the fake below.
    expect((await client.tags(repo)).sort()).toEqual(['t1', 't2', 't3']);
    expect(await client.tags(`${repo}-none`)).toEqual([]);
  });

  it("resolves a tag to the digest the push reported, reads the image's config, and deletes by digest (404 after: absent)", async () => {
    const digest = await push(TEST_IMAGES.logic, 'logic');
    expect(await client.digestOf(repo, 'logic')).toBe(digest);
    const local = await d.getImage(TEST_IMAGES.logic).inspect();
    const config = await client.imageConfig(repo, digest);
    expect(config?.created).toBe(Date.parse(local.Created));
    expect(config?.labels).toEqual(local.Config.Labels);

    expect(await client.deleteManifest(repo, digest)).toBe(ManifestDeletion.deleted);
    expect(await client.digestOf(repo, 'logic')).toBeUndefined();
    expect(await client.imageConfig(repo, digest)).toBeUndefined();
    expect(await client.deleteManifest(repo, digest)).toBe(ManifestDeletion.absent);
  });

  it("an index (as an engine with the containerd store pushes, attestation first): its digest, and the image entry's config", async () => {
    const image = await push(TEST_IMAGES.runtime, 'runtime');
    const attestation = await push(TEST_IMAGES.base, 'base');
    const size = async (digest: string) =>
      Number(
        (
          await fetch(`http://${host}/v2/${repo}/manifests/${digest}`, {
            method: 'HEAD',
            headers: { accept: MANIFEST_TYPES.join(', ') },
          })
        ).headers.get('content-length'),
      );
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPES[3],
      manifests: [
        {
          mediaType: MANIFEST_TYPES[0],
          digest: attestation,
          size: await size(attestation),
          platform: { os: 'unknown', architecture: 'unknown' },
        },
        {
          mediaType: MANIFEST_TYPES[0],
          digest: image,
          size: await size(image),
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    });
    const put = await fetch(`http://${host}/v2/${repo}/manifests/multi`, {
      method: 'PUT',
      headers: { 'content-type': MANIFEST_TYPES[3] },
      body: index,
    });
    expect(put.status).toBe(201);
    const indexDigest = put.headers.get('docker-content-digest')!;

    expect(await client.digestOf(repo, 'multi')).toBe(indexDigest);
    const local = await d.getImage(TEST_IMAGES.runtime).inspect();
    expect((await client.imageConfig(repo, indexDigest))?.created).toBe(Date.parse(local.Created));
  });
});

/**
 * A fake registry (a tiny local HTTP server) for what the real one of this host cannot show: `tags/list`
 * answered in pages with a `Link` to the next (distribution 3, Harbor and others page), a registry that
 * sends the same page again, and one that does not answer.
 */
describe('RegistryClient against a fake registry', () => {
  let server: Server;
  let base = '';
  const seen: { url: string; authorization: string | undefined }[] = [];
  let route: (url: URL, res: ServerResponse) => void = () => undefined;
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      route(new URL(req.url ?? '/', 'http://fake'), res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('follows the Link pages to the last, asking for `n`, with Basic authentication on every request', async () => {
    const all = ['a', 'b', 'c', 'd', 'e'];
    route = (url, res) => {
      const n = Number(url.searchParams.get('n'));
      const from = url.searchParams.has('last') ? all.indexOf(url.searchParams.get('last')!) + 1 : 0;
      const page = all.slice(from, from + n);
      const last = page.at(-1)!;
      const more = from + n < all.length;
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(more ? { link: `</v2/app/tags/list?last=${last}&n=${n}>; rel="next"` } : {}),
      });
      res.end(JSON.stringify({ name: 'app', tags: page }));
    };
    seen.length = 0;
    const c = new RegistryClient({ baseUrl: base, auth: { username: 'u', password: 'p' }, pageSize: 2 });
    expect(await c.tags('app')).toEqual(all);
    expect(seen.map((s) => s.url)).toEqual([
      '/v2/app/tags/list?n=2',
      '/v2/app/tags/list?last=b&n=2',
      '/v2/app/tags/list?last=d&n=2',
    ]);
    expect(new Set(seen.map((s) => s.authorization))).toEqual(
      new Set([`Basic ${Buffer.from('u:p').toString('base64')}`]),
    );
  });

  it('a registry that sends the same page again is an error, not an endless loop', async () => {
    route = (_url, res) => {
      res.writeHead(200, { link: '</v2/app/tags/list?last=a&n=1>; rel="next"' });
      res.end(JSON.stringify({ tags: ['a'] }));
    };
    await expect(new RegistryClient({ baseUrl: base, pageSize: 1 }).tags('app')).rejects.toThrow(/same page twice/);
  });

  it('a digest header that is missing or not a sha256 digest is an error; a registry that does not answer, a bounded one', async () => {
    route = (_url, res) => {
      res.writeHead(200, { 'docker-content-digest': 'md5:abc' });
      res.end();
    };
    await expect(new RegistryClient({ baseUrl: base }).digestOf('app', 'x')).rejects.toThrow(
      /no usable Docker-Content-Digest \(md5:abc\)/,
    );
    route = () => undefined; // never answers
    await expect(new RegistryClient({ baseUrl: base, timeoutMs: 300 }).digestOf('app', 'x')).rejects.toThrow(
      /registry http:\/\/127\.0\.0\.1:\d+: HEAD \/v2\/app\/manifests\/x: .*(timeout|aborted)/i,
    );
  });
});

describe('registryBaseUrl: the engine decides the scheme', () => {
  it('plain HTTP on the insecure 127.0.0.0/8 (as a name too), HTTPS for a registry the engine holds secure', async () => {
    expect(await registryBaseUrl(d, host)).toBe(`http://${host}`);
    expect(await registryBaseUrl(d, 'localhost:5000')).toBe('http://localhost:5000');
    expect(await registryBaseUrl(d, 'docker.io')).toBe('https://docker.io');
    // A name that does not resolve is not on an insecure address.
    expect(await registryBaseUrl(d, 'registry.sidecar.invalid:5000')).toBe('https://registry.sidecar.invalid:5000');
  });
});

describe('nextPage', () => {
  it('takes the rel="next" entry of a Link header, relative or absolute, and nothing without one', () => {
    expect(nextPage('</v2/a/tags/list?last=x&n=2>; rel="next"')).toBe('/v2/a/tags/list?last=x&n=2');
    expect(nextPage('<https://r.example/v2/a/tags/list?last=y>; rel=next')).toBe('/v2/a/tags/list?last=y');
    expect(nextPage('</v2/a/tags/list?last=p>; rel="prev", </v2/a/tags/list?last=q>; rel="next"')).toBe(
      '/v2/a/tags/list?last=q',
    );
    expect(nextPage(null)).toBeUndefined();
    expect(nextPage('</v2/a/tags/list?last=p>; rel="prev"')).toBeUndefined();
  });
});
