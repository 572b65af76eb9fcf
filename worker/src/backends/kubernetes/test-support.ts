import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { APP_DEFAULTS, type App, type KubernetesSettings, type Release } from '@sidecar/core';
import { TEST_IMAGES, docker, ensureTestImages } from '@sidecar/kubelet/test-support';
import { apiStatusOf } from './kube-errors.js';
import { loadKubeConfig } from './kube-config.js';
import { RegistryImagePublisher } from '../registry.js';

/**
 * A fake Kubernetes API server for contract tests: it records every request the client
 * sends (method, path, query, content type, body) and answers like an API server would,
 * from an in-memory object store (with watches) or from a scripted route. It is not a
 * cluster and runs no controllers itself: tests script the status a controller would
 * write, or attach the emulated controllers of `fake-controllers.ts`.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
}
export type Route = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;
/** Answers an HTTP upgrade (a WebSocket, as exec and attach use); the socket is the raw connection. */
export type UpgradeRoute = (req: RecordedRequest, head: http.IncomingMessage, socket: Duplex) => void;
/** Called after a client's write (apply or delete) to the object store: what a controller would react to. */
export type WriteListener = (path: string, obj: Obj | undefined) => void;
interface Watcher {
  collection: string;
  query: Record<string, string>;
  res: http.ServerResponse;
}
interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  path: string;
  obj: Obj;
}
export type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    namespace?: string;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: unknown;
  status?: unknown;
};

export const statusBody = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

export function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A watch answer: one JSON object per line, then the stream ends (as when the server's timeout hits) unless `keepOpen`. */
export function sendWatch(
  res: http.ServerResponse,
  events: { type: string; object: unknown }[],
  opts: { keepOpen?: boolean } = {},
): void {
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  for (const e of events) res.write(`${JSON.stringify(e)}\n`);
  if (!opts.keepOpen) res.end();
}

const COLLECTION = /^\/(?:api\/v1|apis\/[^/]+\/v1)\/namespaces\/([^/]+)\/([a-z]+)$/;
const ITEM = /^\/(?:api\/v1|apis\/[^/]+\/v1)\/namespaces\/([^/]+)\/([a-z]+)\/([^/]+)$/;

/** An object's path directly under a collection's (not a subresource, not another collection). */
const inCollection = (path: string, collection: string) =>
  path.startsWith(`${collection}/`) && !path.slice(collection.length + 1).includes('/');

function matchesFields(obj: Obj, selector: string | undefined): boolean {
  if (!selector) return true;
  // Only metadata.name is needed (the rollout watch); other field selectors match everything.
  return selector
    .split(',')
    .every((term) => !term.startsWith('metadata.name=') || term.slice('metadata.name='.length) === obj.metadata.name);
}

function matchesSelector(labels: Record<string, string> = {}, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const ne = term.split('!=');
    if (ne.length === 2) return labels[ne[0]!] !== ne[1];
    const [k, v] = term.split('=');
    return labels[k!] === v;
  });
}

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  /** Objects by path `/<group path>/namespaces/<ns>/<resource>/<name>`. */
  readonly objects = new Map<string, Obj>();
  private readonly routes: { method: string; path: string | RegExp; route: Route }[] = [];
  private readonly open = new Set<http.ServerResponse>();
  private readonly upgrades: { path: RegExp; route: UpgradeRoute }[] = [];
  private readonly sockets = new Set<Duplex>();
  private readonly watchers = new Set<Watcher>();
  /** Every change, so a watch from a resourceVersion first gets what happened since (as an API server's watch cache does). */
  private readonly history: WatchEvent[] = [];
  private readonly writeListeners: WriteListener[] = [];
  private server: http.Server | undefined;
  private rv = 1;

  /** A scripted answer for matching requests; the newest matching route wins, before the object store. */
  on(method: string, path: string | RegExp, route: Route): this {
    this.routes.unshift({ method, path, route });
    return this;
  }

  /** An answer for upgrade requests (recorded like any request) whose path matches; others are refused with a 404. */
  onUpgrade(path: RegExp, route: UpgradeRoute): this {
    this.upgrades.unshift({ path, route });
    return this;
  }

  /** Requests matching method and a path prefix or pattern. */
  sent(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
    );
  }

  /** Puts an object as if something had created it (a controller, a user with kubectl). */
  put(path: string, obj: Obj): Obj {
    const prev = this.objects.get(path);
    const stored = {
      ...obj,
      metadata: { uid: randomUUID(), generation: 1, ...obj.metadata, resourceVersion: String(++this.rv) },
    };
    this.objects.set(path, stored);
    this.notify(prev ? 'MODIFIED' : 'ADDED', path, stored);
    return stored;
  }

  /** Removes an object as a controller or the garbage collector would. */
  drop(path: string): void {
    const obj = this.objects.get(path);
    if (!obj) return;
    this.objects.delete(path);
    this.rv++;
    this.notify('DELETED', path, obj);
  }

  /** Calls `listener` after each client write to the object store. */
  onWrite(listener: WriteListener): void {
    this.writeListeners.push(listener);
  }

  /** Sends a watch event to every open watch on the object's collection whose selectors match. */
  private notify(type: 'ADDED' | 'MODIFIED' | 'DELETED', path: string, obj: Obj): void {
    const event = { rv: this.rv, type, path, obj };
    this.history.push(event);
    for (const w of this.watchers) this.send(w, event);
  }

  private send(w: Watcher, e: WatchEvent): void {
    const { type, path, obj } = e;
    if (!inCollection(path, w.collection)) return;
    if (!matchesSelector(obj.metadata.labels, w.query.labelSelector) || !matchesFields(obj, w.query.fieldSelector))
      return;
    w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://fake');
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: kept as text
        }
        const rec: RecordedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          contentType: req.headers['content-type'],
          body,
        };
        this.requests.push(rec);
        this.open.add(res);
        res.on('close', () => this.open.delete(res));
        const route = this.routes.find(
          (r) => r.method === rec.method && (typeof r.path === 'string' ? r.path === rec.path : r.path.test(rec.path)),
        );
        Promise.resolve(route ? route.route(rec, res) : this.store(rec, res)).catch((e: unknown) =>
          sendJson(res, 500, statusBody(500, 'InternalError', String(e))),
        );
      });
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType: req.headers['content-type'],
        body: undefined,
      };
      this.requests.push(rec);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      const upgrade = this.upgrades.find((u) => u.path.test(rec.path));
      if (upgrade) return upgrade.route(rec, req, socket);
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** A KubeConfig pointing at this server, as a user's kubeconfig would point at a cluster. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake-api-server', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'test-token' }],
      contexts: [{ name: 'contract', cluster: 'fake-api-server', user: 'tester' }],
      currentContext: 'contract',
    });
    return kc;
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Apply (create or update; generation moves only when spec changes), get, list by label selector, delete. */
  private store(req: RecordedRequest, res: http.ServerResponse): void {
    const item = ITEM.exec(req.path);
    const coll = COLLECTION.exec(req.path);
    if (req.method === 'PATCH' && item) {
      const body = req.body as Obj;
      const prev = this.objects.get(req.path);
      const changed =
        !prev ||
        JSON.stringify(prev.spec) !== JSON.stringify(body.spec) ||
        JSON.stringify(prev.metadata.labels) !== JSON.stringify(body.metadata.labels);
      const obj: Obj = {
        ...body,
        metadata: {
          ...body.metadata,
          uid: prev?.metadata.uid ?? randomUUID(),
          generation: prev
            ? (prev.metadata.generation ?? 1) + (JSON.stringify(prev.spec) !== JSON.stringify(body.spec) ? 1 : 0)
            : 1,
          resourceVersion: changed ? String(++this.rv) : prev!.metadata.resourceVersion!,
        },
        ...(prev?.status ? { status: prev.status } : {}),
      };
      this.objects.set(req.path, obj);
      if (changed) this.notify(prev ? 'MODIFIED' : 'ADDED', req.path, obj);
      for (const l of this.writeListeners) l(req.path, this.objects.get(req.path));
      sendJson(res, prev ? 200 : 201, this.objects.get(req.path) ?? obj);
      return;
    }
    if (req.method === 'GET' && item) {
      const obj = this.objects.get(req.path);
      if (obj) sendJson(res, 200, obj);
      else sendJson(res, 404, statusBody(404, 'NotFound', `${item[2]} "${item[3]}" not found`));
      return;
    }
    if (req.method === 'DELETE' && item) {
      const obj = this.objects.get(req.path);
      if (!obj) return sendJson(res, 404, statusBody(404, 'NotFound', `${item[2]} "${item[3]}" not found`));
      const uid = (req.body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
      if (uid && uid !== obj.metadata.uid)
        return sendJson(res, 409, statusBody(409, 'Conflict', 'Precondition failed: UID in precondition'));
      this.drop(req.path);
      for (const l of this.writeListeners) l(req.path, undefined);
      sendJson(res, 200, obj);
      return;
    }
    if (req.method === 'GET' && coll && req.query.watch === 'true') {
      // Events after the client's resourceVersion; kept open until the client goes.
      const watcher = { collection: req.path, query: req.query, res };
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      this.watchers.add(watcher);
      res.on('close', () => this.watchers.delete(watcher));
      const since = Number(req.query.resourceVersion ?? this.rv);
      for (const e of this.history) if (e.rv > since) this.send(watcher, e);
      return;
    }
    if (req.method === 'GET' && coll) {
      const items = [...this.objects.entries()]
        .filter(([p]) => inCollection(p, req.path))
        .filter(
          ([, o]) =>
            matchesSelector(o.metadata.labels, req.query.labelSelector) && matchesFields(o, req.query.fieldSelector),
        )
        .map(([, o]) => o);
      sendJson(res, 200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
      return;
    }
    sendJson(res, 404, statusBody(404, 'NotFound', `the fake API server has no answer for ${req.method} ${req.path}`));
  }
}

export const testSettings: KubernetesSettings = {
  namespace: 'apps',
  platformId: 'contract',
  ingressClassName: 'nginx',
  hostPattern: '{app}.apps.test',
  registry: '127.0.0.1:5000',
  progressDeadlineSeconds: 60,
  template: { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 },
  sidecarImages: {
    logs: `127.0.0.1:5000/sidecar/log-shipper@sha256:${'5a'.repeat(32)}`,
    tls: `127.0.0.1:5000/sidecar/tls-terminator@sha256:${'71'.repeat(32)}`,
    procinfo: `127.0.0.1:5000/sidecar/procinfo@sha256:${'9c'.repeat(32)}`,
  },
};

export function testApp(name: string, over: Partial<App> = {}): App {
  return {
    ...APP_DEFAULTS,
    name,
    env: {},
    secrets: {},
    resources: { ...APP_DEFAULTS.resources },
    sidecars: { ...APP_DEFAULTS.sidecars, logs: false, tls: { enabled: false } },
    currentRelease: null,
    status: 'deploying',
    createdAt: new Date().toISOString(),
    ...over,
  };
}

export function testRelease(app: string, version: number, over: Partial<Release> = {}): Release {
  return {
    version,
    app,
    image: `127.0.0.1:5000/sidecar-app/${app}:d_${version}`,
    imageDigest: `sha256:${String(version).padStart(2, '0').repeat(32)}`,
    runtimeImage: '127.0.0.1:5000/sidecar/runtime-node:test',
    env: { GREETING: 'hi' },
    manifest: { runtime: 'node', mode: 'handler', entry: 'index.js' },
    createdAt: new Date().toISOString(),
    deployId: `d_${version}`,
    ...over,
  };
}

/**
 * For the suites that run on a real cluster (KUBECONFIG set): the namespace
 * SIDECAR_K8S_TEST_NAMESPACE (default sidecar-test, created if missing), settings owned by
 * a platform id of the suite's own, and the test images pushed to SIDECAR_K8S_TEST_REGISTRY
 * (a registry this Docker engine pushes to and the nodes pull from, e.g. kind's localhost:5001).
 */
export async function clusterSetup(platformId: string): Promise<{
  kubeConfig: KubeConfig;
  settings: KubernetesSettings;
  images: { logic: string; broken: string; runtime: string };
}> {
  const namespace = process.env.SIDECAR_K8S_TEST_NAMESPACE ?? 'sidecar-test';
  const registry = process.env.SIDECAR_K8S_TEST_REGISTRY ?? '';
  if (!registry)
    throw new Error(
      'KUBECONFIG is set but SIDECAR_K8S_TEST_REGISTRY is not: name a registry this engine pushes to and the nodes pull from',
    );
  const kubeConfig = loadKubeConfig();
  await kubeConfig
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: namespace } } })
    .catch((e: unknown) => {
      if (apiStatusOf(e)?.code !== 409) throw e;
    });
  const d = docker();
  await ensureTestImages(d);
  const publisher = new RegistryImagePublisher({ docker: d, registry });
  const images = {
    logic: (await publisher.publish(TEST_IMAGES.logic)).ref,
    broken: (await publisher.publish(TEST_IMAGES.logicBroken)).ref,
    runtime: (await publisher.publish(TEST_IMAGES.runtime)).ref,
  };
  const settings: KubernetesSettings = {
    namespace,
    platformId,
    ingressClassName: process.env.SIDECAR_INGRESS_CLASS ?? 'nginx',
    hostPattern: '{app}.sidecar-test.invalid',
    registry,
    progressDeadlineSeconds: 30,
    template: { probePeriodSeconds: 1, terminationGracePeriodSeconds: 5 },
  };
  return { kubeConfig, settings, images };
}
