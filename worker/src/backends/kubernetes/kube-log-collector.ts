import { finished } from 'node:stream/promises';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { KubeLabels, Labels, PlatformSidecar, silentLog, type Log } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import { LogBatch } from '../../log-batch.js';
import { normalizeTime, readLines, shippedEntry } from '../docker/log-lines.js';
import { Periodic } from '../../periodic.js';
import { kubeMessageOf } from './kube-errors.js';
import { followPodLog } from './pod-log-stream.js';

/** A container whose follow failed is tried again after this long (not on every scan). */
const RETRY_AFTER_MS = 5_000;

/** One running container of one of this platform's pods. */
interface Source {
  key: string;
  uid: string;
  app: string;
  pod: string;
  container: string;
  release: string;
}

/**
 * The cluster's counterpart of LogCollector: follows the log of every running container
 * (native sidecars among the init containers, and the main containers) of this platform's pods
 * in the namespace through the API server, and appends it to the app's log stream in Redis,
 * where `GET /apps/:app/logs` reads it. The kubelet merges stdout and stderr into one log, so
 * every line is stored as `stdout`.
 *
 * A cursor per pod uid and container (the time of the last line stored, written with the lines)
 * lets a restarted worker resume with `sinceTime`, which has whole seconds: lines the cursor
 * already covers are skipped. A container that restarts ends its log stream; the next scan
 * follows the new instance, whose lines are all newer than the cursor. A pod that goes is no
 * longer followed.
 */
export class KubeLogCollector {
  private readonly followed = new Map<string, { uid: string; control: AbortController; done: Promise<void> }>();
  private readonly retryAt = new Map<string, number>();
  private readonly core: CoreV1Api;
  private readonly ticks: Periodic;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly opts: {
      kubeConfig: KubeConfig;
      namespace: string;
      stores: Stores;
      platformId: string;
      intervalMs?: number;
      flushMs?: number;
      retryMs?: number;
      log?: Log;
    },
  ) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.ticks = new Periodic('kubernetes log collector', () => this.scan(), opts.intervalMs ?? 2_000, opts.log);
  }

  start(): void {
    this.ticks.start();
  }

  private async scan(): Promise<void> {
    const items = await listPlatformPods(this.core, this.opts);
    if (this.closing) return;
    const sources = items.flatMap(runningSources);
    const uids = new Set(sources.map((s) => s.uid));
    for (const f of this.followed.values()) if (!uids.has(f.uid)) f.control.abort();
    const keys = new Set(sources.map((s) => s.key));
    for (const key of this.retryAt.keys()) if (!keys.has(key)) this.retryAt.delete(key);
    for (const s of sources) {
      if (this.followed.has(s.key) || (this.retryAt.get(s.key) ?? 0) > Date.now()) continue;
      const control = new AbortController();
      const done = this.follow(s, control.signal)
        .then(() => void this.retryAt.delete(s.key))
        .catch((e: unknown) => {
          if (control.signal.aborted) return;
          this.retryAt.set(s.key, Date.now() + (this.opts.retryMs ?? RETRY_AFTER_MS));
          (this.opts.log ?? silentLog).error(
            { pod: s.pod, container: s.container, error: kubeMessageOf(e) },
            'log collector: following a container failed',
          );
        })
        .finally(() => this.followed.delete(s.key));
      this.followed.set(s.key, { uid: s.uid, control, done });
    }
  }

  private async follow(s: Source, signal: AbortSignal): Promise<void> {
    const { stores } = this.opts;
    const [last] = await stores.appLogs.cursor(s.app, [s.key]);
    const resumeFrom = last ?? '';
    let caughtUp = !resumeFrom;
    const res = await followPodLog(this.opts.kubeConfig, {
      namespace: this.opts.namespace,
      pod: s.pod,
      container: s.container,
      signal,
      // sinceTime takes whole seconds: from the cursor's second on, then skip what it covers.
      ...(resumeFrom ? { sinceTime: `${resumeFrom.slice(0, 19)}Z` } : {}),
    });
    const batch = new LogBatch({
      stores,
      app: s.app,
      ...(this.opts.flushMs ? { flushMs: this.opts.flushMs } : {}),
      onError: (e) =>
        (this.opts.log ?? silentLog).error(
          { app: s.app, error: kubeMessageOf(e) },
          'log collector: storing lines failed',
        ),
    });
    batch.start();
    const meta = { pod: s.pod, container: s.container, release: s.release };
    // The log shipper's output is the app's files, one JSON line each (as on Docker).
    const shipper = s.container === PlatformSidecar.logs;
    try {
      const lines = readLines(res, (text) => {
        const sp = text.indexOf(' ');
        const time = sp > 0 ? utcTime(text.slice(0, sp)) : '';
        if (!time) return;
        // Only while resuming: live lines may share a timestamp.
        if (!caughtUp) {
          if (time <= resumeFrom) return;
          caughtUp = true;
        }
        const line = text.slice(sp + 1);
        batch.add(shipper ? shippedEntry(meta, time, line) : { ...meta, time, stream: 'stdout', line }, {
          [s.key]: time,
        });
      });
      // finished() also settles when the connection goes without an end (reset, abort).
      await Promise.all([lines, finished(res)]);
    } finally {
      await batch.close();
    }
  }

  /** Stops scanning and every follow, storing the lines already read. Safe twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ticks.close();
      const all = [...this.followed.values()];
      for (const f of all) f.control.abort();
      await Promise.all(all.map((f) => f.done));
    })();
    return this.closing;
  }
}

/**
 * The pods of this platform in the namespace (several platforms may share it): the ones the
 * worker's collectors look into. A bare `app` existence term is left to their own checks.
 */
export async function listPlatformPods(
  core: CoreV1Api,
  o: { namespace: string; platformId: string },
): Promise<V1Pod[]> {
  const labelSelector = `${Labels.managed}=true,${KubeLabels.platform}=${o.platformId}`;
  return (await core.listNamespacedPod({ namespace: o.namespace, labelSelector })).items;
}

/** The containers of a pod that have a log to follow now: running ones, init (native sidecars) and main. */
function runningSources(pod: V1Pod): Source[] {
  const labels = pod.metadata?.labels ?? {};
  const app = labels[Labels.app];
  const uid = pod.metadata?.uid;
  const name = pod.metadata?.name;
  // A terminating pod is still followed: its shutdown lines matter, and its streams end as its containers exit.
  if (!app || !uid || !name) return [];
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return statuses
    .filter((c) => c.state?.running)
    .map((c) => ({
      key: `${uid}/${c.name}`,
      uid,
      app,
      pod: name,
      container: c.name,
      release: labels[Labels.release] ?? '',
    }));
}

/**
 * A kubelet time (RFC 3339 with up to nine fraction digits, trailing zeros dropped, in the node's
 * offset) in UTC with nine digits, so that times compare as strings; '' when it is none.
 */
export function utcTime(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return '';
  const seconds = m[3] === 'Z' ? m[1] : new Date(Date.parse(`${m[1]}${m[3]}`)).toISOString().slice(0, 19);
  return normalizeTime(`${seconds}${m[2] ?? ''}Z`);
}
