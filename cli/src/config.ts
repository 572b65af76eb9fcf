import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError, ExitCode } from './errors.js';

/** Everything the CLI reads from the environment, validated once at start (the only module reading process.env). */
export interface CliConfig {
  /** Multiplies the kubelet's crash-loop back-off and the Job pod-failure back-off; 1 is the kubelet's. */
  backoffScale: number;
  /** A pause image to use as is; undefined: the platform's, built when missing (`ensurePlatformImages`). */
  pauseImage: string | undefined;
  dockerSocket: string;
  /** Directory of the run processes' control sockets (mode 0700). */
  runDir: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<CliConfig> {
  const scale = env.SIDECAR_BACKOFF_SCALE ?? '1';
  const backoffScale = Number(scale);
  // Same bounds as the worker's setting: scaling the kubelet's delays up is not a thing.
  if (scale.trim() === '' || !Number.isFinite(backoffScale) || backoffScale <= 0 || backoffScale > 1) {
    throw new CliError(`SIDECAR_BACKOFF_SCALE must be a number in (0, 1], got "${scale}"`, ExitCode.usage);
  }
  const pauseImage = env.SIDECAR_PAUSE_IMAGE === '' ? undefined : env.SIDECAR_PAUSE_IMAGE;
  return Object.freeze({
    backoffScale,
    pauseImage,
    dockerSocket: env.SIDECAR_DOCKER_SOCKET || '/var/run/docker.sock',
    runDir: env.SIDECAR_RUN_DIR || join(tmpdir(), 'sidecar-pods'),
  });
}
