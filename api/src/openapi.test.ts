import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import { Problem } from '@sidecar/core/wire';
import { connectRedis, createStores, FsBlobStore, newTokenSecret, SecretBox, type Stores } from '@sidecar/store';
import { DeployQueues } from '@sidecar/store/queues';
import { createApp } from './app.js';
import { appPaths } from './openapi/app-paths.js';
import { platformPaths } from './openapi/platform-paths.js';

/**
 * The OpenAPI document against the express app it describes (real Redis, real git): every express
 * route is documented, every documented operation answers (not express's "no such endpoint"), and
 * every answer has a documented status and, where it is JSON, the documented shape.
 */
const prefix = `t-${randomUUID().slice(0, 8)}:`;
const redis = connectRedis(inject('redisUrl'));
const stores: Stores = createStores(redis, prefix, new SecretBox([{ id: 't', key: randomBytes(32) }]));
const queues = new DeployQueues(redis, prefix);
const dir = mkdtempSync(join(tmpdir(), 'sidecar-openapi-test-'));
const admin = newTokenSecret();
const app = createApp({
  stores,
  queues,
  blobs: new FsBlobStore(join(dir, 'blobs')),
  maxBundleBytes: 64 * 1024,
  urlFor: (n) => `http://${n}.localhost:8080/`,
  caCertPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  git: {
    root: join(dir, 'git'),
    httpBackend: '/usr/lib/git-core/git-http-backend',
    lockWaitMs: 1000,
    pushTimeoutMs: 5000,
    maxPushBytes: 1024 * 1024,
    repoQuotaBytes: 1024 * 1024 * 1024,
    nodePath: process.execPath,
  },
});
const auth = { authorization: `Bearer ${admin}` };
const tgz = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const source: ZodOpenApiPathsObject = { ...platformPaths, ...appPaths };
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
type Method = (typeof METHODS)[number];

/** Every operation of the document, with its path in express's syntax (`{app}` → `:app`). */
const operations = Object.entries(source).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((method) => ({
    method,
    path,
    express: path.replace(/\{(\w+)\}/g, ':$1'),
    op: item[method] as ZodOpenApiOperationObject,
  })),
);

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: string;
}
/** Every route express dispatches to: the app's router stack, nested routers included, with mount paths. */
function expressRoutes(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const route = layer.route;
      return Object.keys(route.methods).map((m) => `${m.toUpperCase()} ${prefix}${route.path}`);
    }
    if (!layer.handle.stack) return [];
    const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
    return expressRoutes(layer.handle.stack, `${prefix}${mount}`);
  });
}

const name = `oa-${randomUUID().slice(0, 6)}`;
const ids = { deploy: '', job: '', token: '' };

beforeAll(async () => {
  await stores.tokens.ensureAdmin(admin);
  // What a worker publishes at start; /manifests and /runtime/rollout answer 503 not_ready without it.
  await stores.platform.publishBackend({
    target: 'docker',
    runtimeImage: 'sidecar/runtime-node:2',
    runtimeImageDigest: `sha256:${'f1'.repeat(32)}`,
    sidecarImages: { logs: 'sidecar/log-shipper:1', tls: 'sidecar/tls-terminator:1', procinfo: 'sidecar/procinfo:1' },
    template: { probePeriodSeconds: 3, terminationGracePeriodSeconds: 30 },
  });
  await request(app).post('/api/v1/apps').set(auth).send({ name }).expect(201);
  const release = await stores.releases.create({
    app: name,
    image: `sidecar-app/${name}:d_1`,
    imageDigest: `sha256:${'e3'.repeat(32)}`,
    runtimeImage: 'sidecar/runtime-node:1',
    env: {},
    manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
    createdAt: new Date().toISOString(),
    deployId: 'd_1',
  });
  await stores.apps.update(name, (a) => ({ ...a, currentRelease: release.version, status: 'running' }));
  const deploy = await request(app)
    .post(`/api/v1/apps/${name}/deploys`)
    .set({ ...auth, 'content-type': 'application/gzip' })
    .send(tgz)
    .expect(202);
  ids.deploy = deploy.body.id;
  const job = await request(app)
    .post(`/api/v1/apps/${name}/jobs`)
    .set(auth)
    .send({ command: ['true'] })
    .expect(202);
  ids.job = job.body.id;
  const token = await request(app)
    .post('/api/v1/tokens')
    .set(auth)
    .send({ name: 'oa', apps: [name] })
    .expect(201);
  ids.token = token.body.id;
});
afterAll(async () => {
  await queues.close();
  await stores.close();
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

/** A documented path with real values for its parameters. */
function concrete(path: string): string {
  return path
    .replace('{app}', name)
    .replace(/deploys\/\{id\}/, `deploys/${ids.deploy}`)
    .replace(/jobs\/\{id\}/, `jobs/${ids.job}`)
    .replace(/tokens\/\{id\}/, `tokens/${ids.token}`)
    .replace('{pod}', 'no-such-pod');
}

/** What each operation is sent: a valid body where it takes one, so that most answer 2xx. */
const BODIES: Record<string, { type: string; body: string | Buffer | object }> = {
  'post /api/v1/apps': { type: 'application/json', body: { name: `${name}-b` } },
  'patch /api/v1/apps/{app}': { type: 'application/json', body: { replicas: 1 } },
  'post /api/v1/apps/{app}/deploys': { type: 'application/gzip', body: tgz },
  'post /api/v1/apps/{app}/rollback': { type: 'application/json', body: { version: 1 } },
  'post /api/v1/apps/{app}/jobs': { type: 'application/json', body: { command: ['true'] } },
  'patch /api/v1/apps/{app}/git': { type: 'application/json', body: { deployBranch: null } },
  'post /api/v1/tokens': { type: 'application/json', body: { name: 'oa-2', apps: ['*'] } },
  'post /git/_hooks/pre-receive': { type: 'application/json', body: {} },
  'post /git/{app}.git/git-upload-pack': { type: 'application/x-git-upload-pack-request', body: Buffer.from('0000') },
  'post /git/{app}.git/git-receive-pack': { type: 'application/x-git-receive-pack-request', body: Buffer.from('0000') },
};

/** The credentials an operation's security scheme asks for: none, a bearer token, or git's Basic. */
function credentials(op: ZodOpenApiOperationObject): Record<string, string> {
  if (op.security?.length === 0) return {};
  if (op.security?.some((s) => 'gitBasic' in s))
    return { authorization: `Basic ${Buffer.from(`x:${admin}`).toString('base64')}` };
  return auth;
}

/** express's own "no route here" (outside /api) or the API's catch-all: the path is not served at all. */
const isUnrouted = (res: request.Response) =>
  res.status === 404 &&
  (/^Cannot \w+ /m.test(res.text) ||
    (res.body as { code?: string; detail?: string } | undefined)?.detail?.startsWith('no such endpoint') === true ||
    /not a git path/.test(res.text));

const contentType = (res: request.Response) => (res.headers['content-type'] ?? '').split(';')[0]!.trim();

describe('the OpenAPI document', () => {
  it('is served without a token as OpenAPI 3.1', async () => {
    const res = await request(app).get('/api/v1/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths).sort()).toEqual(Object.keys(source).sort());
    expect(res.body.components.schemas.App.properties.secrets).toBeDefined();
  });

  it('documents every express route', () => {
    const documented = new Set(operations.map((o) => `${o.method.toUpperCase()} ${o.express}`));
    const routes = expressRoutes((app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => !documented.has(r))).toEqual([]);
  });

  it('every documented operation answers, with a documented status and shape', async () => {
    // Deletes last: they remove the app and the token the others use.
    const ordered = [...operations].sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'));
    const wrong: string[] = [];
    for (const { method, path, op } of ordered) {
      const url = concrete(path) + (path.endsWith('/info/refs') ? '?service=git-upload-pack' : '');
      const send = BODIES[`${method} ${path}`];
      let req = request(app)[method as Method](url).set(credentials(op));
      if (send) req = req.set('content-type', send.type).send(send.body);
      const res = await req;
      const what = `${method.toUpperCase()} ${path} → ${res.status}`;
      if (isUnrouted(res)) {
        wrong.push(`${what}: not routed`);
        continue;
      }
      const documented = op.responses[String(res.status) as `2${string}`];
      if (!documented || '$ref' in documented) {
        wrong.push(`${what}: status not documented (${res.text.slice(0, 200)})`);
        continue;
      }
      const type = contentType(res);
      if (res.status !== 204 && !documented.content?.[type]) wrong.push(`${what}: ${type} not documented`);
      const schema = documented.content?.[type]?.schema;
      const body = /json$/.test(type) ? (JSON.parse(res.text) as unknown) : res.text;
      if (type === 'application/problem+json') {
        const p = Problem.safeParse(body);
        if (!p.success) wrong.push(`${what}: not a Problem: ${p.error.message}`);
        else if (!(documented.description ?? '').includes(`\`${p.data.code}\``))
          wrong.push(`${what}: code ${p.data.code} not documented`);
      } else if (schema instanceof z.ZodType) {
        const r = schema.safeParse(body);
        if (!r.success) wrong.push(`${what}: not the documented shape: ${r.error.message}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
