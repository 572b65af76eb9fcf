import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_IMAGES, docker, ensureTestImages, uniqueName } from '@sidecar/kubelet/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryImagePublisher } from '../registry.js';
import {
  configMapData,
  containerEnv,
  containerOf,
  createSecrets,
  deployDoc,
  ensureRegistryBinary,
  freePort,
  Program,
} from './deploy-manifests.js';

/**
 * The registry as deploy/kubernetes/registry.yaml runs it: the real distribution registry of this host
 * (Debian's docker-registry) with the container's environment (htpasswd authentication, the htpasswd
 * file from the Secret that create-secrets.sh made), storage and address moved to this test's. The
 * real Docker engine pushes with the worker's credentials and pulls with the nodes' pull Secret; nobody
 * gets in without them.
 */
const d = docker();
const dir = mkdtempSync(join(tmpdir(), 'sidecar-deploy-registry-'));
const container = containerOf(deployDoc('Deployment', 'registry'), 'registry');
const { values: secrets } = createSecrets();
const worker = { username: secrets['sidecar-registry/username']!, password: secrets['sidecar-registry/password']! };
const repo = uniqueName('sidecar-test-authpush');
let registry: Program;
let host = '';

/** The registry's answer to a request, with or without the worker's credentials. */
const get = (path: string, auth?: { username: string; password: string }) =>
  fetch(`http://${host}${path}`, {
    headers: {
      accept: 'application/vnd.docker.distribution.manifest.v2+json',
      ...(auth
        ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
        : {}),
    },
  });

beforeAll(async () => {
  ensureRegistryBinary();
  await ensureTestImages(d);
  await d.getImage(TEST_IMAGES.base).tag({ repo, tag: '1' });
  host = `127.0.0.1:${await freePort()}`;
  const env = containerEnv(container, secrets);
  // The htpasswd file where the Secret's volume would put it; storage and address of this test.
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, secrets['sidecar-registry-auth/htpasswd']!);
  expect(env.REGISTRY_AUTH_HTPASSWD_PATH).toBe('/etc/registry/auth/htpasswd');
  env.REGISTRY_AUTH_HTPASSWD_PATH = htpasswd;
  env.REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY = join(dir, 'data');
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem: {}', 'http:', `  addr: ${host}`].join('\n'),
  );
  registry = new Program('docker-registry', ['serve', config], { env });
  await registry.until(async () => (await get('/v2/')).status === 401, 'the registry answers');
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const ref of [`${repo}:1`, `${host}/${repo}:1`])
    await d
      .getImage(ref)
      .remove()
      .catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('the registry from deploy/kubernetes/registry.yaml', () => {
  it('answers nothing without credentials: 401 with a Basic challenge, even the catalog', async () => {
    const res = await get('/v2/');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="sidecar-registry"');
    expect((await get('/v2/_catalog')).status).toBe(401);
    expect((await get('/v2/', { username: worker.username, password: 'wrong' })).status).toBe(401);
  });

  it("the worker pushes with its credentials (the Secret's user): the registry serves the image under the digest it reported", async () => {
    const published = await new RegistryImagePublisher({ docker: d, registry: host, auth: worker }).publish(
      `${repo}:1`,
    );
    expect(published.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const res = await get(`/v2/${repo}/manifests/1`, worker);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(published.digest);
    // The digest check before a push goes through the engine with the same credentials.
    const lines: string[] = [];
    const again = await new RegistryImagePublisher({ docker: d, registry: host, auth: worker }).publishIfAbsent(
      `${repo}:1`,
      { log: (l) => lines.push(l) },
    );
    expect(again.digest).toBe(published.digest);
    expect(lines).toEqual([`${host}/${repo}:1 is in the registry already (${published.digest})`]);
  });

  it('a push without credentials fails', async () => {
    await expect(new RegistryImagePublisher({ docker: d, registry: host }).publish(`${repo}:1`)).rejects.toThrow(
      /pushing .* failed: .*(no basic auth credentials|unauthorized|authentication required)/i,
    );
  });

  it("the nodes' pull Secret names SIDECAR_REGISTRY and pulls with the same user; without it a pull is refused", async () => {
    const config = JSON.parse(secrets['sidecar-registry-pull/.dockerconfigjson']!) as {
      auths: Record<string, { username: string; password: string; auth: string }>;
    };
    const registryName = configMapData('sidecar-settings').SIDECAR_REGISTRY!;
    const entry = config.auths[registryName]!;
    expect(Buffer.from(entry.auth, 'base64').toString()).toBe(`${entry.username}:${entry.password}`);
    // What a node does with it, against this registry's address.
    const pull = async (authconfig: object) => {
      const stream = await d.pull(`${host}/${repo}:1`, { authconfig });
      await new Promise<void>((resolve, reject) =>
        d.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())),
      );
    };
    await expect(
      pull({ username: entry.username, password: entry.password, serveraddress: host }),
    ).resolves.toBeUndefined();
    await expect(pull({})).rejects.toThrow(/no basic auth credentials|unauthorized|authentication required/i);
  });
});
