import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { DeployResult } from '../../support/deploys.js';
import type { RunningPlatform } from '../../support/platform.js';
import { waitUntil } from './wait.js';

/** Uploads a bundle and returns the new deploy's id (without waiting for it). */
export async function upload(p: RunningPlatform, app: string, bundle: Buffer): Promise<string> {
  const res = await p.api$(`/api/v1/apps/${app}/deploys`, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip' },
    body: new Uint8Array(bundle),
  });
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export async function deployOf(p: RunningPlatform, app: string, id: string): Promise<DeployResult['deploy']> {
  const res = await p.api$(`/api/v1/apps/${app}/deploys/${id}`);
  if (res.status !== 200) throw new Error(`deploy ${id} answered ${res.status}`);
  return (await res.json()) as DeployResult['deploy'];
}

export async function deployLogText(p: RunningPlatform, app: string, id: string): Promise<string> {
  return (await p.api$(`/api/v1/apps/${app}/deploys/${id}/logs`)).text();
}

const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Waits (bounded) until a deploy has ended, asking again when the API is briefly unavailable
 * (a chaos test's API may be restarting). "Stuck" is the failure this bound exists for.
 */
export async function deployEnded(
  p: RunningPlatform,
  app: string,
  id: string,
  timeoutMs = 180_000,
): Promise<DeployResult> {
  let last = '';
  const deploy = await waitUntil(
    `deploy ${id} of ${app} ended`,
    async () => {
      const d = await deployOf(p, app, id);
      last = d.status;
      return FINISHED.has(d.status) ? d : undefined;
    },
    { timeoutMs, everyMs: 200, describe: () => `status ${last}` },
  );
  return { deploy, log: await deployLogText(p, app, id) };
}

/**
 * Follows a deploy's log as it is written and calls `onLine` for every line (the moment a phase
 * begins is the moment its line arrives). Ends with the deploy, or on `stop()`.
 */
export function followDeployLog(
  p: RunningPlatform,
  app: string,
  id: string,
  onLine: (line: string) => void,
): { done: Promise<void>; stop(): void } {
  const control = new AbortController();
  const done = (async () => {
    const res = await p.api$(`/api/v1/apps/${app}/deploys/${id}/logs?follow=true`, { signal: control.signal });
    if (!res.body) return;
    const lines = createInterface({ input: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) });
    for await (const line of lines) onLine(line);
  })().catch((e: unknown) => {
    if (!control.signal.aborted) throw e;
  });
  return { done, stop: () => control.abort() };
}
