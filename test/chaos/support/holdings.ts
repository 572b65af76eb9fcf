import type { RunningPlatform } from '../../support/platform.js';

/**
 * What the platform holds for an app — its current release, its releases, its deploys (ids) —
 * compared before and after a fault: anything missing afterwards was lost.
 */
export async function holdings(p: RunningPlatform, app: string) {
  const json = async (path: string) => {
    const res = await p.api$(path);
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const ids = (v: Record<string, unknown>) =>
    (v.items as Array<{ id?: string; version?: number }>).map((x) => x.id ?? x.version);
  return {
    currentRelease: (await json(`/api/v1/apps/${app}`)).currentRelease,
    releases: ids(await json(`/api/v1/apps/${app}/releases`)),
    deploys: ids(await json(`/api/v1/apps/${app}/deploys`)),
  };
}

/** An app's stored log lines (of one container when named), oldest first, with their pod. */
export async function appLogLines(
  p: RunningPlatform,
  app: string,
  container?: string,
): Promise<Array<{ pod: string; line: string }>> {
  const res = await p.api$(`/api/v1/apps/${app}/logs?tail=10000${container ? `&container=${container}` : ''}`, {
    headers: { accept: 'application/json' },
  });
  return ((await res.json()) as { items: Array<{ pod: string; line: string }> }).items;
}
