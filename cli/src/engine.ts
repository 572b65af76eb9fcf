import { errorText } from '@sidecar/core';
import type { Pod } from '@sidecar/core';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { PLATFORM_LABEL, PodRunner } from '@sidecar/kubelet';
import Docker from 'dockerode';
import type { CliConfig } from './config.js';
import { CliError, ExitCode, ManifestError } from './errors.js';

/**
 * The platform id on every pod the CLI starts (PLATFORM_LABEL): the platform's worker adopts only
 * its own id's pods, and `pod get|delete` act only on these.
 */
export const CLI_PLATFORM_ID = 'cli';

export async function connectDocker(config: Pick<CliConfig, 'dockerSocket'>): Promise<Docker> {
  const docker = new Docker({ socketPath: config.dockerSocket });
  try {
    await docker.ping();
  } catch (e) {
    throw new CliError(`cannot reach the Docker engine at ${config.dockerSocket}: ${errorText(e)}`, ExitCode.failed, {
      cause: e,
    });
  }
  return docker;
}

/** SIDECAR_PAUSE_IMAGE, else the platform's pause image (built once, then found by its content tag). */
export async function pauseImage(
  docker: Docker,
  config: Pick<CliConfig, 'pauseImage'>,
  note: (line: string) => void,
): Promise<string> {
  if (config.pauseImage) return config.pauseImage;
  const images = await ensurePlatformImages({
    docker,
    log: (line) => (line.endsWith(': present') ? undefined : note(line)),
  });
  return images.pause;
}

/** The pod as the CLI runs it: labelled as the CLI's (never adopted by a platform worker). */
export function cliPod(pod: Pod): Pod {
  return {
    ...pod,
    metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, [PLATFORM_LABEL]: CLI_PLATFORM_ID } },
  };
}

/** Before anything is created: the name is free and every image is present (the Docker target never pulls). */
export async function preflight(docker: Docker, pod: Pod, where: { source: string; specPath: string }): Promise<void> {
  const { source, specPath } = where;
  const name = pod.metadata.name ?? '';
  if ((await PodRunner.list(docker)).includes(name)) {
    throw new ManifestError(
      `${source}: pod "${name}" already exists on this Docker engine (\`sidecar pod delete ${name}\` removes it)`,
    );
  }
  const entries = [
    ...(pod.spec.initContainers ?? []).map((c, i) => ({
      image: c.image,
      path: `${specPath}.initContainers[${i}].image`,
    })),
    ...pod.spec.containers.map((c, i) => ({ image: c.image, path: `${specPath}.containers[${i}].image` })),
  ];
  const checked = new Set<string>();
  for (const { image, path } of entries) {
    if (checked.has(image)) continue;
    checked.add(image);
    try {
      await docker.getImage(image).inspect();
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
      throw new ManifestError(
        `${source}: ${path}: image "${image}" is not present on this Docker engine (it never pulls: build or load it first)`,
        { cause: e },
      );
    }
  }
}

/** Names of the pods the CLI started on this engine. */
export function cliPods(docker: Docker): Promise<string[]> {
  return PodRunner.list(docker, { platformId: CLI_PLATFORM_ID });
}
