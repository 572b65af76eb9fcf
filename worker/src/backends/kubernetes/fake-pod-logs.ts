import type http from 'node:http';
import { Labels, KubeLabels } from '@sidecar/core';
import { sendJson, statusBody, type FakeApiServer, type Obj, type RecordedRequest } from './test-support.js';

const LOG_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/;

/**
 * Container logs for the fake API server (contract tests; not a kubelet, not a cluster): answers
 * `GET /api/v1/namespaces/<ns>/pods/<pod>/log` as the API server proxies it from the kubelet:
 * `container` required, `timestamps=true` prefixes each line with its RFC 3339 nano time (trailing
 * zeros dropped, as Go prints them), `sinceTime` is read at whole seconds, and `follow=true` keeps
 * the chunked response open and writes each new line to it until the container "restarts" or the
 * pod goes. Pods themselves are objects put in the fake server's store (`podObject`).
 */
export class FakePodLogs {
  /** The current instance's lines and open follows, per `<ns>/<pod>/<container>`. */
  private readonly logs = new Map<
    string,
    { lines: { time: string; text: string }[]; follows: Set<http.ServerResponse> }
  >();
  private readonly failures = new Map<string, number>();
  private lastNs = 0n;

  constructor(private readonly api: FakeApiServer) {
    api.on('GET', LOG_PATH, (req, res) => this.serve(req, res));
  }

  /** The container writes `text` (one line) now; open follows get it at once. */
  write(ns: string, pod: string, container: string, text: string): void {
    const log = this.log(ns, pod, container);
    const line = { time: this.now(), text };
    log.lines.push(line);
    for (const res of log.follows) res.write(`${line.time} ${text}\n`);
  }

  /** The container exits and starts again: open follows end, the new instance's log starts empty. */
  restart(ns: string, pod: string, container: string): void {
    const log = this.log(ns, pod, container);
    for (const res of log.follows) res.end();
    this.logs.set(`${ns}/${pod}/${container}`, { lines: [], follows: new Set() });
  }

  /** The next `times` log requests for this container fail with a 500, as when the kubelet cannot be reached. */
  failNext(ns: string, pod: string, container: string, times = 1): void {
    this.failures.set(`${ns}/${pod}/${container}`, times);
  }

  /** How many follows of this container are open. */
  follows(ns: string, pod: string, container: string): number {
    return this.logs.get(`${ns}/${pod}/${container}`)?.follows.size ?? 0;
  }

  private log(ns: string, pod: string, container: string) {
    const key = `${ns}/${pod}/${container}`;
    let log = this.logs.get(key);
    if (!log) this.logs.set(key, (log = { lines: [], follows: new Set() }));
    return log;
  }

  /** Strictly increasing nanosecond times, printed like Go's RFC3339Nano. */
  private now(): string {
    const wall = BigInt(Date.now()) * 1_000_000n;
    const ns = (this.lastNs = wall > this.lastNs ? wall : this.lastNs + 1n);
    const seconds = new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
    const fraction = String(ns % 1_000_000_000n)
      .padStart(9, '0')
      .replace(/0+$/, '');
    return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
  }

  private serve(req: RecordedRequest, res: http.ServerResponse): void {
    const [, ns, pod] = LOG_PATH.exec(req.path) ?? [];
    const container = req.query.container;
    if (!this.api.objects.has(`/api/v1/namespaces/${ns}/pods/${pod}`))
      return sendJson(res, 404, statusBody(404, 'NotFound', `pods "${pod}" not found`));
    if (!container)
      return sendJson(res, 400, statusBody(400, 'BadRequest', `a container name must be specified for pod ${pod}`));
    const failures = this.failures.get(`${ns}/${pod}/${container}`) ?? 0;
    if (failures > 0) {
      this.failures.set(`${ns}/${pod}/${container}`, failures - 1);
      return sendJson(
        res,
        500,
        statusBody(
          500,
          'InternalError',
          `Get "https://node:10250/containerLogs/${ns}/${pod}/${container}": connection refused`,
        ),
      );
    }
    const log = this.log(ns!, pod!, container);
    // The kubelet compares at whole seconds: a line in the cursor's second is sent again.
    const since = req.query.sinceTime ? Date.parse(req.query.sinceTime) - (Date.parse(req.query.sinceTime) % 1000) : 0;
    const stamp = req.query.timestamps === 'true';
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    for (const l of log.lines)
      if (Date.parse(l.time) >= since) res.write(stamp ? `${l.time} ${l.text}\n` : `${l.text}\n`);
    if (req.query.follow !== 'true') return void res.end();
    log.follows.add(res);
    res.on('close', () => log.follows.delete(res));
  }
}

/**
 * A pod as the API server lists it, with its containers running; `labels` beyond the platform's own,
 * `containerIds` the runtime's ids of containers by name (`containerd://<id>`), where a test needs them.
 */
export function podObject(o: {
  ns: string;
  name: string;
  platformId: string;
  app: string;
  release: number;
  init?: string[];
  containers: string[];
  labels?: Record<string, string>;
  containerIds?: Record<string, string>;
}): Obj & { status: unknown } {
  const running = (name: string) => ({
    name,
    ready: true,
    restartCount: 0,
    image: 'fake',
    imageID: '',
    ...(o.containerIds?.[name] ? { containerID: o.containerIds[name] } : {}),
    state: { running: { startedAt: new Date().toISOString() } },
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name,
      namespace: o.ns,
      labels: {
        [Labels.managed]: 'true',
        [KubeLabels.platform]: o.platformId,
        [Labels.app]: o.app,
        [Labels.release]: String(o.release),
        ...o.labels,
      },
    },
    spec: {
      initContainers: (o.init ?? []).map((name) => ({ name, image: 'fake', restartPolicy: 'Always' })),
      containers: o.containers.map((name) => ({ name, image: 'fake' })),
    },
    status: {
      phase: 'Running',
      initContainerStatuses: (o.init ?? []).map(running),
      containerStatuses: o.containers.map(running),
    },
  };
}
