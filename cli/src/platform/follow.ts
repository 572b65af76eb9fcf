import { isFinal, type DeployStatus } from '@sidecar/core';
import { DeployView, listOf } from '@sidecar/core/wire';
import type { Ui } from '../ui.js';
import type { ApiClient } from './client.js';

const Deploys = listOf(DeployView);
/** A log follow can end early (the API restarted); it is taken up again this many times. */
const FOLLOW_ATTEMPTS = 5;

/**
 * Follows a deploy's log until the deploy ends (the API closes a followed log at its end) and answers
 * the deploy as it ended. `printLog` writes each log line; without it the wait is silent.
 */
export async function followDeploy(opts: {
  client: ApiClient;
  deploy: DeployView;
  printLog?: (line: string) => void;
  signal: AbortSignal;
}): Promise<DeployView> {
  const { client, deploy, signal } = opts;
  const path = `/apps/${deploy.app}/deploys/${deploy.id}`;
  let seen = 0;
  for (let attempt = 0; attempt < FOLLOW_ATTEMPTS; attempt++) {
    let n = 0;
    // A follow taken up again starts from the top: skip the lines already shown.
    for await (const line of client.lines(`${path}/logs?follow=true`, signal)) if (n++ >= seen) opts.printLog?.(line);
    seen = Math.max(seen, n);
    if (signal.aborted) break;
    const now = await client.json('GET', path, DeployView);
    if (isFinal(now.status as DeployStatus)) return now;
  }
  signal.throwIfAborted();
  return client.json('GET', path, DeployView);
}

/** The ids of an app's deploys, to tell which one a settings change started. */
export async function deployIds(client: ApiClient, app: string): Promise<Set<string>> {
  const { items } = await client.json('GET', `/apps/${app}/deploys`, Deploys);
  return new Set(items.map((d) => d.id));
}

/** The deploy a settings change started (one not among `before`), if it started one. */
export async function startedDeploy(
  client: ApiClient,
  app: string,
  before: Set<string>,
): Promise<DeployView | undefined> {
  const { items } = await client.json('GET', `/apps/${app}/deploys`, Deploys);
  return items.find((d) => !before.has(d.id));
}

/** `queued 0.1s · build 3.2s · rollout 2.1s · total 5.6s` (what is known of it). */
export function timings(d: DeployView): string {
  const s = (ms: number | null) => (ms === null ? null : `${(ms / 1000).toFixed(1)}s`);
  const parts: Array<[string, string | null]> = [
    ['queued', s(d.timings.queuedMs)],
    ['build', s(d.timings.buildMs)],
    ['rollout', s(d.timings.deployMs)],
    ['total', s(d.timings.totalMs)],
  ];
  return parts
    .filter((p): p is [string, string] => p[1] !== null)
    .map(([k, v]) => `${k} ${v}`)
    .join(' · ');
}

/** Reports how a deploy ended: true when it serves. */
export function reportDeploy(ui: Ui, d: DeployView, url: string): boolean {
  if (d.status === 'succeeded') {
    ui.out(`${ui.c.green('✔')} ${d.app} v${d.release} is serving at ${ui.c.bold(url)}`);
    ui.note(ui.c.dim(timings(d)));
    return true;
  }
  const why = d.error ? `${d.error.message} (${d.error.code})` : d.status;
  ui.note(`${ui.c.red('✖')} deploy ${d.id} ${d.status}: ${why}`);
  return false;
}
