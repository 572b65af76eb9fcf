import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig as parseEnv } from '@sidecar/core';
import { CliError, ExitCode } from './errors.js';

/** What the CLI takes from the environment, parsed once at start by the platform's one config schema. */
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
  try {
    const c = parseEnv('cli', env);
    return Object.freeze({
      backoffScale: c.SIDECAR_BACKOFF_SCALE,
      pauseImage: c.SIDECAR_PAUSE_IMAGE,
      dockerSocket: c.SIDECAR_DOCKER_SOCKET,
      runDir: c.SIDECAR_RUN_DIR ?? join(tmpdir(), 'sidecar-pods'),
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, ExitCode.usage);
    throw e;
  }
}
