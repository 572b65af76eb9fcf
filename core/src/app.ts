/** An app: what a user creates once and deploys many times. */
export const AppStatus = {
  new: 'new',
  deploying: 'deploying',
  running: 'running',
  failed: 'failed',
  stopped: 'stopped',
  /** Scaled to zero after a quiet spell: its pods are suspended and the next request wakes them. */
  idle: 'idle',
} as const;
export type AppStatus = (typeof AppStatus)[keyof typeof AppStatus];

export interface Resources {
  memory: string;
  cpu: string;
}
/** A certificate the user brings for the TLS sidecar (PEM); without one the platform CA issues it. */
export interface TlsSettings {
  enabled: boolean;
  cert?: string;
  key?: string;
}
export interface Sidecars {
  logs: boolean;
  procinfo: boolean;
  tls: TlsSettings;
}
/**
 * Where an app's pods may connect to, enforced by the Kubernetes target's NetworkPolicies
 * (docs/kubernetes.md): `internet` is DNS and addresses outside the cluster's private ranges,
 * `none` is nothing at all (not even DNS). Never the platform's own services either way.
 */
export const Egress = { internet: 'internet', none: 'none' } as const;
export type Egress = (typeof Egress)[keyof typeof Egress];
export interface NetworkSettings {
  egress: Egress;
}

/**
 * How the router treats an app's HTTP traffic (docs/router.md). Stored partially: what is not
 * set takes its default (apps stored before these settings existed have none).
 */
export interface HttpSettings {
  /** On a redeploy, how long upgraded connections (WebSockets) to an old pod may stay open. */
  drainSeconds: number;
  /** How long the router waits for the app's response (and between its chunks) before a 504. */
  timeoutSeconds: number;
  /** The largest request body the router forwards; larger ones get a 413. */
  maxBodyMiB: number;
  /** Requests in flight to the app at once through the router; beyond that a 503 with Retry-After. */
  maxConcurrent: number;
}

export const HTTP_DEFAULTS = {
  drainSeconds: 30,
  timeoutSeconds: 60,
  maxBodyMiB: 100,
  maxConcurrent: 1000,
} as const satisfies HttpSettings;

/** Inclusive bounds of each setting, checked by the API. */
export const HTTP_LIMITS = {
  drainSeconds: { min: 0, max: 3600 },
  timeoutSeconds: { min: 1, max: 3600 },
  maxBodyMiB: { min: 1, max: 10_240 },
  maxConcurrent: { min: 1, max: 100_000 },
} as const satisfies Record<keyof HttpSettings, { min: number; max: number }>;

/** The settings in force: what the app set, defaults for the rest. */
export function httpSettings(stored: Partial<HttpSettings> | undefined): HttpSettings {
  return { ...HTTP_DEFAULTS, ...stored };
}

/**
 * Scale to zero (docs/scale-to-zero.md): after `idleSeconds` without a request or an open connection the
 * app's pods are suspended (frozen: no CPU, their memory kept) and the next request wakes them.
 */
export interface ScaleToZeroSettings {
  enabled: boolean;
  idleSeconds: number;
}

export const SCALE_TO_ZERO_DEFAULTS = { enabled: false, idleSeconds: 300 } as const satisfies ScaleToZeroSettings;
export const IDLE_SECONDS_LIMITS = { min: 1, max: 7 * 24 * 3600 } as const;

/** The settings in force: what the app set, defaults for the rest. */
export function scaleToZeroSettings(stored: Partial<ScaleToZeroSettings> | undefined): ScaleToZeroSettings {
  return { ...SCALE_TO_ZERO_DEFAULTS, ...stored };
}

export interface App {
  name: string;
  runtime: 'node';
  env: Record<string, string>;
  /** Stored values; never returned by the API (see maskSecrets). */
  secrets: Record<string, string>;
  replicas: number;
  resources: Resources;
  sidecars: Sidecars;
  /** Only what the user set; read through httpSettings(). */
  http?: Partial<HttpSettings>;
  /** Absent on apps stored before the setting existed: `APP_DEFAULTS.network`. */
  network?: NetworkSettings;
  /** Only what the user set; read through scaleToZeroSettings(). */
  scaleToZero?: Partial<ScaleToZeroSettings>;
  currentRelease: number | null;
  status: AppStatus;
  createdAt: string;
}

export const APP_DEFAULTS = {
  runtime: 'node',
  replicas: 1,
  resources: { memory: '256Mi', cpu: '500m' },
  sidecars: { logs: true, procinfo: false, tls: { enabled: false } },
  network: { egress: Egress.internet },
} as const satisfies Pick<Required<App>, 'runtime' | 'replicas' | 'resources' | 'sidecars' | 'network'>;

export function maskSecrets(secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(secrets).map((k) => [k, '******']));
}

/** Applies a PATCH-style map: a key set to null is removed. */
export function mergeVars(
  current: Record<string, string>,
  patch: Record<string, string | null>,
): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Kubernetes quantities → bytes / nano-CPUs, for the Docker target and validation. */
export function parseMemory(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(q);
  if (!m) throw new Error(`invalid memory quantity ${JSON.stringify(q)}`);
  const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
  return Math.round(Number(m[1]) * (m[2] ? units[m[2]]! : 1));
}

export function parseCpu(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q);
  if (!m) throw new Error(`invalid cpu quantity ${JSON.stringify(q)}`);
  return Math.round(Number(m[1]) * (m[2] ? 1e6 : 1e9));
}
