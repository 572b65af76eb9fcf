import Docker from 'dockerode';
import type { RunningPlatform } from './platform.js';

const docker = new Docker();

/**
 * Deletes every app through the API (the platform stops their pods), then
 * removes anything still labelled with this test platform's id — containers
 * and volumes only this run created.
 */
export async function cleanupPlatformContainers(p: RunningPlatform | undefined): Promise<void> {
  if (!p) return;
  try {
    const apps = (await (await p.api$('/api/v1/apps')).json()) as { items: Array<{ name: string }> };
    await Promise.all(apps.items.map((a) => p.api$(`/api/v1/apps/${a.name}`, { method: 'DELETE' })));
  } catch {
    // The platform may already be down; the label sweep below still runs.
  }
  await sweep(p);
}

/** Removes every container and volume labelled with the platform's id. */
async function sweep(p: RunningPlatform | undefined): Promise<void> {
  if (!p) return;
  const filters = { label: [`sidecar.paas/platform=${p.platformId}`] };
  for (const c of await docker.listContainers({ all: true, filters })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => undefined);
}

/** The usual end of an e2e file: remove what this platform created, then stop it as Ctrl-C does. */
export async function stopPlatform(p: RunningPlatform | undefined): Promise<void> {
  await cleanupPlatformContainers(p);
  await p?.stop();
  await sweep(p); // the worker's warm network holders, if it could not remove them itself
}
