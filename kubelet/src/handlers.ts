import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { ContainerPort, ExecAction, HTTPGetAction, LifecycleHandler, Probe, TCPSocketAction } from '@sidecar/core';
import type Docker from 'dockerode';

/**
 * Runs one probe or lifecycle-hook action against a container, as the kubelet's
 * prober and hook runner do:
 * - exec: `docker exec` in the container (its user, env and namespaces); exit 0 = success.
 * - httpGet / tcpSocket: from the host to the pod's IP on the `sidecar-pods` bridge
 *   (the host reaches bridge IPs directly, and any port works, not only published ones).
 *   HTTP success is a status in 200..399, like the kubelet.
 * - sleep (hooks only): waits.
 */
export interface ActionTarget {
  container: Docker.Container;
  /** The pod's IP on the pod network (the pause container's). */
  podIp: string;
  /** The container's declared ports, for named probe ports. */
  ports: readonly ContainerPort[];
}

export interface ActionResult {
  ok: boolean;
  message: string;
}

const MAX_OUTPUT = 10 * 1024;

export async function runAction(
  target: ActionTarget,
  action: Probe | LifecycleHandler,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<ActionResult> {
  if (action.exec) return execAction(target.container, action.exec, opts);
  if (action.httpGet) return httpGetAction(target, action.httpGet, opts);
  if ('tcpSocket' in action && action.tcpSocket) return tcpAction(target, action.tcpSocket, opts);
  if ('sleep' in action && action.sleep) {
    const ms = Math.min(action.sleep.seconds * 1000, opts.timeoutMs);
    await delay(ms, undefined, opts.signal ? { signal: opts.signal } : {}).catch((e: unknown) => {
      if (!opts.signal?.aborted) throw e;
    });
    return { ok: true, message: '' };
  }
  throw new Error('action has no handler');
}

function resolvePort(port: number | string, ports: readonly ContainerPort[]): number {
  if (typeof port === 'number') return port;
  const found = ports.find((p) => p.name === port);
  if (!found) throw new Error(`unknown named port ${JSON.stringify(port)}`);
  return found.containerPort;
}

async function execAction(
  container: Docker.Container,
  action: ExecAction,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<ActionResult> {
  const exec = await container.exec({ Cmd: action.command, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  let output = '';
  out.on('data', (b: Buffer) => {
    if (output.length < MAX_OUTPUT) output += b.toString('utf8');
  });
  container.modem.demuxStream(stream, out, out);
  const finished = new Promise<'done'>((resolve) => {
    stream.once('end', () => resolve('done'));
    stream.once('close', () => resolve('done'));
    stream.once('error', () => resolve('done'));
  });
  let timer: NodeJS.Timeout | undefined;
  let stopListening = () => {};
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), opts.timeoutMs);
    stopListening = onAbort(opts.signal, () => resolve('timeout'));
  });
  const outcome = await Promise.race([finished, timedOut]);
  clearTimeout(timer);
  stopListening();
  if (outcome === 'timeout') {
    stream.destroy();
    // The kubelet reports a timed-out exec probe as a failure; the process may linger in the container.
    return {
      ok: false,
      message: `command ${JSON.stringify(action.command)} timed out after ${opts.timeoutMs / 1000}s`,
    };
  }
  const info = await exec.inspect();
  const code = info.ExitCode;
  if (code === 0) return { ok: true, message: output.trim() };
  return { ok: false, message: output.trim() || `command ${JSON.stringify(action.command)} exited with ${code}` };
}

function httpGetAction(
  target: ActionTarget,
  action: HTTPGetAction,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<ActionResult> {
  const port = resolvePort(action.port, target.ports);
  const host = action.host ?? target.podIp;
  const path = action.path ?? '/';
  const request = action.scheme === 'HTTPS' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      {
        host,
        port,
        path,
        method: 'GET',
        headers: { 'user-agent': 'kube-probe/1.33', accept: '*/*' },
        // The kubelet does not verify probe certificates either.
        rejectUnauthorized: false,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        resolve(
          status >= 200 && status < 400
            ? { ok: true, message: '' }
            : { ok: false, message: `HTTP probe failed with statuscode: ${status}` },
        );
      },
    );
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`timeout after ${opts.timeoutMs / 1000}s`)));
    req.once('error', (e) => resolve({ ok: false, message: `Get "http://${host}:${port}${path}": ${e.message}` }));
    req.end();
  });
}

function tcpAction(
  target: ActionTarget,
  action: TCPSocketAction,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<ActionResult> {
  const port = resolvePort(action.port, target.ports);
  const host = action.host ?? target.podIp;
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let stopListening = () => {};
    const done = (r: ActionResult) => {
      stopListening();
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(opts.timeoutMs, () => done({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` }));
    socket.once('connect', () => done({ ok: true, message: '' }));
    socket.once('error', (e) => done({ ok: false, message: `dial tcp ${host}:${port}: ${e.message}` }));
    stopListening = onAbort(opts.signal, () => done({ ok: false, message: 'aborted' }));
  });
}

/**
 * Calls `fn` once if `signal` aborts; returns what removes the listener. Every attempt of a probe
 * shares its loop's signal, so a listener left behind per attempt would pile up on it.
 */
function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    fn();
    return () => {};
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}
