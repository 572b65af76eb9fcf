import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig as parseEnv } from '@sidecar/core';
import { CliError, ExitCode } from './errors.js';

/** What the CLI takes from the environment: the only module that reads it, once at start. */
export interface CliConfig {
  /** Multiplies the kubelet's crash-loop back-off and the Job pod-failure back-off; 1 is the kubelet's. */
  backoffScale: number;
  /** A pause image to use as is; undefined: the platform's, built when missing (`ensurePlatformImages`). */
  pauseImage: string | undefined;
  dockerSocket: string;
  /** Directory of the run processes' control sockets (mode 0700). */
  runDir: string;
  /** SIDECAR_API_URL / SIDECAR_TOKEN: override the current context's API and token. */
  apiUrl: string | undefined;
  token: string | undefined;
  /** `$XDG_CONFIG_HOME/sidecar/config.json` (default `~/.config/...`): contexts and git credentials, mode 0600. */
  configFile: string;
  /** NO_COLOR set (to anything but empty) or TERM=dumb: no colour and no spinners, even on a terminal. */
  plain: boolean;
  /** A desktop session (macOS, Windows, or X11/Wayland): `sidecar open` may start a browser. */
  desktop: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<CliConfig> {
  try {
    const c = parseEnv('cli', env);
    const configHome = env.XDG_CONFIG_HOME || join(homedir(), '.config');
    return Object.freeze({
      backoffScale: c.SIDECAR_BACKOFF_SCALE,
      pauseImage: c.SIDECAR_PAUSE_IMAGE,
      dockerSocket: c.SIDECAR_DOCKER_SOCKET,
      runDir: c.SIDECAR_RUN_DIR ?? join(tmpdir(), 'sidecar-pods'),
      apiUrl: c.SIDECAR_API_URL,
      token: c.SIDECAR_TOKEN,
      configFile: join(configHome, 'sidecar', 'config.json'),
      plain: Boolean(env.NO_COLOR) || env.TERM === 'dumb',
      desktop: ['darwin', 'win32'].includes(process.platform) || Boolean(env.DISPLAY || env.WAYLAND_DISPLAY),
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, ExitCode.usage);
    throw e;
  }
}
