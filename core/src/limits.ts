import { type App, parseCpu, parseMemory, type Resources } from './app.js';
import { formatBytes } from './bytes.js';
import { DomainError, ErrorCode } from './errors.js';

/**
 * The platform maximums a tenant's requests are held to (docs/security.md, "compute quotas"). Each
 * is a setting (TENANT_LIMIT_SETTINGS); a request past one is answered 422 `limit_exceeded`, one past
 * a quota of things a tenant already holds 429 `quota_exceeded`, and the message names the limit
 * and its setting.
 */
export interface TenantLimits {
  /** The memory limit one container may ask for (a Kubernetes quantity). */
  maxMemory: string;
  /** The CPU limit one container may ask for (a Kubernetes quantity). */
  maxCpu: string;
  maxReplicas: number;
  /** Apps one deployer token may have created and not deleted (admin tokens are the operator's). */
  maxAppsPerToken: number;
  /** Jobs of one app pending or running at once. */
  maxJobsPerApp: number;
  /** Variables of an app, env and secrets together (and of a job's own env). */
  maxVars: number;
  /** Bytes of those variables, names and values. */
  maxVarsBytes: number;
  /** Bytes of an app's stored settings (env, secrets, sidecars with a TLS certificate and key) as JSON. */
  maxSettingsBytes: number;
}

export const TENANT_LIMIT_SETTINGS = {
  maxMemory: 'SIDECAR_MAX_MEMORY',
  maxCpu: 'SIDECAR_MAX_CPU',
  maxReplicas: 'SIDECAR_MAX_REPLICAS',
  maxAppsPerToken: 'SIDECAR_MAX_APPS_PER_TOKEN',
  maxJobsPerApp: 'SIDECAR_MAX_JOBS_PER_APP',
  maxVars: 'SIDECAR_MAX_APP_VARS',
  maxVarsBytes: 'SIDECAR_MAX_APP_VARS_BYTES',
  maxSettingsBytes: 'SIDECAR_MAX_APP_SETTINGS_BYTES',
} as const satisfies Record<keyof TenantLimits, string>;

export const DEFAULT_TENANT_LIMITS: Readonly<TenantLimits> = Object.freeze({
  maxMemory: '2Gi',
  maxCpu: '2',
  maxReplicas: 10,
  maxAppsPerToken: 20,
  maxJobsPerApp: 2,
  maxVars: 200,
  maxVarsBytes: 64 * 1024,
  maxSettingsBytes: 256 * 1024,
});

const over = (limit: keyof TenantLimits, what: string) =>
  new DomainError(ErrorCode.limitExceeded, `${what} (${TENANT_LIMIT_SETTINGS[limit]})`);

/** A quota a tenant has used up: 429, try again once something was deleted or has ended. */
export const quotaReached = (limit: keyof TenantLimits, what: string) =>
  new DomainError(ErrorCode.quotaExceeded, `${what} (${TENANT_LIMIT_SETTINGS[limit]})`);

/** The resources a container asks for, against the per-container maximums (quantities already valid). */
export function checkResources(r: Partial<Resources>, l: TenantLimits): void {
  if (r.memory !== undefined && parseMemory(r.memory) > parseMemory(l.maxMemory))
    throw over('maxMemory', `resources.memory: ${r.memory} is more than the ${l.maxMemory} a container may have`);
  if (r.cpu !== undefined && parseCpu(r.cpu) > parseCpu(l.maxCpu))
    throw over('maxCpu', `resources.cpu: ${r.cpu} is more than the ${l.maxCpu} CPU a container may have`);
}

export function checkReplicas(replicas: number, l: TenantLimits): void {
  if (replicas > l.maxReplicas)
    throw over('maxReplicas', `replicas: ${replicas} is more than the ${l.maxReplicas} an app may have`);
}

const varsBytes = (vars: Record<string, string>) =>
  Object.entries(vars).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

/** Variables (an app's env and secrets together, or a job's env): how many and how large. */
export function checkVars(vars: Record<string, string>[], l: TenantLimits, what = 'env and secrets'): void {
  const count = vars.reduce((n, v) => n + Object.keys(v).length, 0);
  if (count > l.maxVars) throw over('maxVars', `${what}: ${count} variables, more than the ${l.maxVars} allowed`);
  const bytes = vars.reduce((n, v) => n + varsBytes(v), 0);
  if (bytes > l.maxVarsBytes)
    throw over(
      'maxVarsBytes',
      `${what}: ${formatBytes(bytes)} of names and values, more than the ${formatBytes(l.maxVarsBytes)} allowed`,
    );
}

const settingsBytes = (app: Pick<App, 'env' | 'secrets' | 'sidecars'>) =>
  Buffer.byteLength(JSON.stringify({ env: app.env, secrets: app.secrets, sidecars: app.sidecars }));

/** The settings stored with an app (and copied into its releases), as JSON. */
export function checkSettingsSize(app: Pick<App, 'env' | 'secrets' | 'sidecars'>, l: TenantLimits): void {
  const bytes = settingsBytes(app);
  if (bytes > l.maxSettingsBytes)
    throw over(
      'maxSettingsBytes',
      `the app's settings are ${formatBytes(bytes)} as stored, more than the ${formatBytes(l.maxSettingsBytes)} allowed`,
    );
}

/**
 * What a create or a PATCH touched: only those parts are checked, so a limit lowered later binds
 * new changes only, and a change that only removes something is always allowed.
 */
export interface ChangedSettings {
  /** The app before a PATCH; absent for a create. */
  before?: App;
  resources?: Partial<Resources> | undefined;
  replicas?: number | undefined;
  /** env or secrets got a variable added or changed. */
  varsGrew: boolean;
}

/** Every limit an app's settings are held to, for what the request changed; throws `limit_exceeded`. */
export function checkAppSettings(app: App, changed: ChangedSettings, l: TenantLimits): void {
  if (changed.resources) checkResources(changed.resources, l);
  if (changed.replicas !== undefined) checkReplicas(changed.replicas, l);
  if (changed.varsGrew) checkVars([app.env, app.secrets], l);
  if (!changed.before || settingsBytes(app) > settingsBytes(changed.before)) checkSettingsSize(app, l);
}
