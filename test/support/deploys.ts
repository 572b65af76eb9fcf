import type { RunningPlatform } from './platform.js';

export interface DeployResult {
  deploy: {
    id: string;
    status: string;
    release: number | null;
    error: { code: string; message: string } | null;
    timings: Record<string, number | null>;
  };
  log: string;
}

/** Uploads a bundle and waits for the deploy to end by following its log (the API closes it at the end). */
export async function deploy(
  p: RunningPlatform,
  app: string,
  bundle: Buffer,
  contentType = 'application/gzip',
): Promise<DeployResult> {
  const res = await p.api$(`/api/v1/apps/${app}/deploys`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new Uint8Array(bundle),
  });
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return waitForDeploy(p, app, id);
}

export async function waitForDeploy(p: RunningPlatform, app: string, id: string): Promise<DeployResult> {
  const log = await (await p.api$(`/api/v1/apps/${app}/deploys/${id}/logs?follow=true`)).text();
  const deploy = (await (await p.api$(`/api/v1/apps/${app}/deploys/${id}`)).json()) as DeployResult['deploy'];
  return { deploy, log };
}

export async function createApp(p: RunningPlatform, name: string, body: Record<string, unknown> = {}): Promise<void> {
  const res = await p.api$('/api/v1/apps', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, ...body }),
  });
  if (res.status !== 201) throw new Error(`create ${name} answered ${res.status}: ${await res.text()}`);
}

/**
 * Keeps a bounded stream of requests going to an app through the router until
 * stopped (bounded by time, and by count only when `maxRequests` is given: how many
 * requests a rollout's minute sees depends on how fast the router is): `concurrency` loops at once, half of them
 * GETs and half POSTs with a body (which the router never retries, so a dropped
 * connection shows up as a failure). Records every non-200 answer or error and
 * every body seen, so a test can assert "no failed request" across a rollout.
 */
export function trafficLoop(
  p: RunningPlatform,
  app: string,
  opts: { maxRequests?: number; maxMs?: number; concurrency?: number } = {},
) {
  const failures: string[] = [];
  const bodies: string[] = [];
  let stop = false;
  let sent = 0;
  const deadline = Date.now() + (opts.maxMs ?? 120_000);
  const max = opts.maxRequests ?? Number.POSITIVE_INFINITY;
  let ended = false;
  const loops = Array.from({ length: opts.concurrency ?? 1 }, async (_, i) => {
    const method = i % 2 === 0 ? 'GET' : 'POST';
    while (!stop && sent < max && Date.now() < deadline) {
      sent++;
      try {
        const r = await p.request(app, { method, path: '/', body: method === 'POST' ? `payload-${sent}` : undefined });
        if (r.status !== 200) failures.push(`${method} ${r.status} ${r.body.trim()}`);
        else bodies.push(r.body.trim());
      } catch (e) {
        failures.push(`${method} ${(e as Error).message}`);
      }
    }
  });
  const done = Promise.all(loops).finally(() => (ended = true));
  return {
    failures,
    bodies,
    /** Waits (bounded) until `n` more answers than now match `re`: traffic kept flowing after a change. */
    async seen(re: RegExp, n = 20, timeoutMs = 60_000): Promise<void> {
      // Only the answers that arrive from now on count; each is looked at once.
      let scanned = bodies.length;
      let matched = 0;
      const end = Date.now() + timeoutMs;
      for (;;) {
        for (; scanned < bodies.length; scanned++) if (re.test(bodies[scanned]!)) matched++;
        if (matched >= n) return;
        const why = ended
          ? `the loops ended (their ${opts.maxMs ?? 120_000} ms${Number.isFinite(max) ? ` or ${max} requests` : ''}) after ${sent} requests`
          : Date.now() > end
            ? `not within ${timeoutMs} ms`
            : undefined;
        if (why)
          throw new Error(
            `${matched} of ${n} answers matching ${re}: ${why}; last: ${bodies.at(-1)}; failures: ${failures.slice(0, 3).join(' | ')}`,
          );
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      stop = true;
      await done;
    },
  };
}
