import { Writable } from 'node:stream';
import { CoreV1Api, Exec, type KubeConfig, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { Labels, PlatformSidecar, PROCINFO_SNAPSHOT_COMMAND, silentLog, type Log } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import { listPlatformPods } from './kube-log-collector.js';
import { Periodic } from '../../periodic.js';
import { parseProcinfo, snapshotSink, SNAPSHOT_TIMEOUT_MS } from '../docker/process-insight.js';
import { kubeMessageOf } from './kube-errors.js';

/** The pod template's main container, whose processes a snapshot is kept to. */
const RUNTIME_CONTAINER = 'runtime';
/** The most of an exec's stderr kept for its error message. */
const MAX_STDERR_BYTES = 4096;

/** What this module uses of the WebSocket the client's Exec returns (the `ws` package's). */
interface ExecSocket {
  readonly readyState: number;
  once(event: 'close', listener: () => void): unknown;
  terminate(): void;
}
const WS_CLOSED = 3;

/** A running pod of this platform whose procinfo sidecar is running. */
interface Target {
  uid: string;
  app: string;
  pod: string;
  runtimeId: string;
}

/**
 * The cluster's counterpart of ProcessInsight: every interval, lists this platform's pods in the
 * namespace and, in each running pod whose `procinfo` sidecar runs, execs the snapshot command
 * through the API server (pods/exec, WebSocket), keeps the processes of the pod's `runtime`
 * container (its cgroup path names the id from the pod status) and publishes them to Redis for
 * `GET /apps/:app/pods/:pod/processes`. A failing pod is logged once (again only after it
 * recovered) and tried again on the next scan; the others go on.
 */
export class KubeProcessInsight {
  private readonly core: CoreV1Api;
  private readonly exec: Exec;
  private readonly ticks: Periodic;
  /** Pods (by uid) whose failure was logged: not logged again until they succeed or go. */
  private readonly failing = new Set<string>();
  private readonly control = new AbortController();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly opts: {
      kubeConfig: KubeConfig;
      namespace: string;
      stores: Stores;
      platformId: string;
      intervalMs?: number;
      snapshotTimeoutMs?: number;
      log?: Log;
    },
  ) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.exec = new Exec(opts.kubeConfig);
    this.ticks = new Periodic('kubernetes process insight', () => this.scan(), opts.intervalMs ?? 2_000, opts.log);
  }

  start(): void {
    this.ticks.start();
  }

  private async scan(): Promise<void> {
    const items = await listPlatformPods(this.core, this.opts);
    if (this.control.signal.aborted) return;
    const targets = items.flatMap(snapshotTarget);
    const uids = new Set(items.map((p) => p.metadata?.uid));
    for (const uid of this.failing) if (!uids.has(uid)) this.failing.delete(uid);
    await Promise.all(
      targets.map(async (t) => {
        try {
          await this.collect(t);
          this.failing.delete(t.uid);
        } catch (e) {
          if (this.control.signal.aborted || this.failing.has(t.uid)) return;
          this.failing.add(t.uid);
          (this.opts.log ?? silentLog).error({ pod: t.pod, error: kubeMessageOf(e) }, 'process insight failed');
        }
      }),
    );
  }

  private async collect(t: Target): Promise<void> {
    const output = await this.snapshot(t.pod);
    await this.opts.stores.processes.put(t.app, {
      pod: t.pod,
      time: new Date().toISOString(),
      items: parseProcinfo(output, t.runtimeId),
    });
  }

  /** Runs the snapshot command in the pod's procinfo container; its stdout, or an error with the exec's status. */
  private async snapshot(pod: string): Promise<string> {
    let failure: Error | undefined;
    let status: V1Status | undefined;
    // Output may overflow before the socket is handed back (frames that came with the upgrade).
    const conn: { socket?: ExecSocket } = {};
    const stdout = snapshotSink((e) => {
      failure = e;
      conn.socket?.terminate();
    });
    const stderr = tail(MAX_STDERR_BYTES);
    const socket = (await this.exec.exec(
      this.opts.namespace,
      pod,
      PlatformSidecar.procinfo,
      [...PROCINFO_SNAPSHOT_COMMAND],
      stdout.sink,
      stderr.sink,
      null,
      false,
      (s) => (status = s),
    )) as unknown as ExecSocket;
    conn.socket = socket;
    // The status frame (channel 3) ends a finished command; the client then closes the socket.
    await new Promise<void>((resolve) => {
      if (socket.readyState === WS_CLOSED) return resolve();
      const stop = (e: Error) => {
        failure ??= e;
        socket.terminate();
      };
      const limit = this.opts.snapshotTimeoutMs ?? SNAPSHOT_TIMEOUT_MS;
      const timer = setTimeout(() => stop(new Error(`procinfo snapshot took longer than ${limit / 1000} s`)), limit);
      const onAbort = () => stop(new Error('closing'));
      socket.once('close', () => {
        clearTimeout(timer);
        this.control.signal.removeEventListener('abort', onAbort);
        resolve();
      });
      // close() may have come while the socket was being opened.
      if (this.control.signal.aborted) onAbort();
      else this.control.signal.addEventListener('abort', onAbort, { once: true });
    });
    if (failure) throw failure;
    const done: V1Status | undefined = status;
    if (!done) throw new Error('exec ended without a status');
    if (done.status !== 'Success')
      throw new Error([done.message ?? 'exec failed', stderr.text().trim()].filter(Boolean).join(': '));
    return stdout.text();
  }

  /** Stops scanning and any exec in progress. Safe twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.control.abort();
      await this.ticks.close();
    })();
    return this.closing;
  }
}

/** The pod when it runs, its procinfo sidecar runs and its runtime container has an id; none otherwise. */
function snapshotTarget(pod: V1Pod): Target[] {
  const app = pod.metadata?.labels?.[Labels.app];
  const uid = pod.metadata?.uid;
  const name = pod.metadata?.name;
  if (!app || !uid || !name || pod.status?.phase !== 'Running') return [];
  // procinfo is a native sidecar (an init container that keeps running); a main container is accepted too.
  const statuses = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])];
  if (!statuses.some((c) => c.name === PlatformSidecar.procinfo && c.state?.running)) return [];
  const runtime = statuses.find((c) => c.name === RUNTIME_CONTAINER);
  // `containerd://<id>` or `docker://<id>`: the cgroup paths name the bare id.
  const runtimeId = runtime?.containerID?.replace(/^[a-z-]+:\/\//, '') ?? '';
  return runtimeId ? [{ uid, app, pod: name, runtimeId }] : [];
}

/** Keeps the last `max` bytes written (enough for an error message). */
function tail(max: number): { sink: Writable; text: () => string } {
  let kept = Buffer.alloc(0);
  const sink = new Writable({
    write(b: Buffer, _encoding, done) {
      kept = Buffer.concat([kept, b]).subarray(-max);
      done();
    },
  });
  return { sink, text: () => kept.toString('utf8') };
}
