import { z } from 'zod';

/** An app: what a user creates once and deploys many times. */
export const AppStatus = {
  new: 'new',
  deploying: 'deploying',
  running: 'running',
  failed: 'failed',
  stopped: 'stopped',
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

export interface App {
  name: string;
  runtime: 'node';
  env: Record<string, string>;
  /** Stored values; never returned by the API (see maskSecrets). */
  secrets: Record<string, string>;
  replicas: number;
  resources: Resources;
  sidecars: Sidecars;
  /** Absent on apps stored before the setting existed: `APP_DEFAULTS.network`. */
  network?: NetworkSettings;
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

/** The request body's `network` (create and PATCH): validated here, where the setting is defined. */
export const NetworkInput = z.object({ egress: z.enum([Egress.internet, Egress.none]).optional() }).strict();
export type NetworkInput = z.infer<typeof NetworkInput>;

export const MAX_REPLICAS = 10;

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
