import type { RunningPlatform } from './platform.js';

export interface DeployResult {
  deploy: { id: string; status: string; release: number | null; error: { code: string; message: string } | null; timings: Record<string, number | null> };
  log: string;
}

/** Uploads a bundle and waits for the deploy to end by following its log (the API closes it at the end). */
export async function deploy(p: RunningPlatform, app: string, bundle: Buffer, contentType = 'application/gzip'): Promise<DeployResult> {
  const res = await p.api$(`/api/v1/apps/${app}/deploys`, { method: 'POST', headers: { 'content-type': contentType }, body: bundle });
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
  const res = await p.api$('/api/v1/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, ...body }) });
  if (res.status !== 201) throw new Error(`create ${name} answered ${res.status}: ${await res.text()}`);
}

/**
 * Sends requests one after another to an app through the router until stopped
 * (bounded by count and time), recording every status that is not 200 and
 * every body seen, so a test can assert "no failed request" across a rollout.
 */
export function trafficLoop(p: RunningPlatform, app: string, opts: { maxRequests?: number; maxMs?: number } = {}) {
  const failures: string[] = [];
  const bodies: string[] = [];
  let stop = false;
  const deadline = Date.now() + (opts.maxMs ?? 120_000);
  const max = opts.maxRequests ?? 20_000;
  const done = (async () => {
    for (let i = 0; i < max && !stop && Date.now() < deadline; i++) {
      try {
        const r = await p.get(app);
        if (r.status !== 200) failures.push(`${r.status} ${r.body.trim()}`);
        else bodies.push(r.body.trim());
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  })();
  return {
    failures, bodies,
    async stop() {
      stop = true;
      await done;
    },
  };
}
