import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { WorkerConfig } from '@sidecar/core';

/** The files of a Docker client certificate folder, as Docker's `DOCKER_CERT_PATH` holds them. */
export const DOCKER_TLS_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;

/**
 * The worker's Docker engine: the local socket, or (`SIDECAR_DOCKER_HOST`) an engine over TCP with
 * mutual TLS, as the Kubernetes builder runs it (deploy/kubernetes/builder.yaml). Over TCP the engine
 * must present a certificate signed by `ca.pem` for the host name used, and the worker presents its
 * own: a privileged build daemon answers nobody else (not even the build containers it runs, which can
 * reach its address). The config schema refuses a TCP host without a certificate folder.
 */
export async function connectDocker(
  config: Pick<WorkerConfig, 'SIDECAR_DOCKER_SOCKET' | 'SIDECAR_DOCKER_HOST' | 'SIDECAR_DOCKER_TLS_DIR'>,
): Promise<Docker> {
  if (!config.SIDECAR_DOCKER_HOST) return new Docker({ socketPath: config.SIDECAR_DOCKER_SOCKET });
  const dir = config.SIDECAR_DOCKER_TLS_DIR;
  if (!dir)
    throw new Error('SIDECAR_DOCKER_HOST needs SIDECAR_DOCKER_TLS_DIR (a TCP engine is used with mutual TLS only)');
  const url = new URL(config.SIDECAR_DOCKER_HOST);
  const [ca, cert, key] = await Promise.all(
    [DOCKER_TLS_FILES.ca, DOCKER_TLS_FILES.cert, DOCKER_TLS_FILES.key].map((f) => readFile(join(dir, f))),
  );
  return new Docker({ protocol: 'https', host: url.hostname, port: Number(url.port), ca, cert, key });
}
