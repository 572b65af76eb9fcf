import type { z } from 'zod';
import type { TenantLimits } from '../limits.js';
import { PlatformEnv, type VariableName } from './variables.js';

type Shape = typeof PlatformEnv.shape;
/** The schema of some variables (zod's `pick` cannot infer a mask built from a list, hence the cast). */
const pick = <K extends VariableName>(...names: K[]) =>
  PlatformEnv.pick(Object.fromEntries(names.map((n) => [n, true])) as never) as unknown as z.ZodObject<
    Pick<Shape, K>,
    z.core.$strip
  >;

const shared = [
  'SIDECAR_REDIS_URL',
  'SIDECAR_REDIS_PREFIX',
  'SIDECAR_PLATFORM_ID',
  'SIDECAR_LOG_FORMAT',
  'SIDECAR_LOG_LEVEL',
] as const;
const images = [
  'SIDECAR_RUNTIME_IMAGE',
  'SIDECAR_PAUSE_IMAGE',
  'SIDECAR_LOGIC_BASE_IMAGE',
  'SIDECAR_BUILDER_IMAGE',
  'SIDECAR_LOG_SHIPPER_IMAGE',
  'SIDECAR_TLS_TERMINATOR_IMAGE',
  'SIDECAR_PROCINFO_IMAGE',
] as const;

/** The limits the API holds tenants' requests to (TenantLimits). */
const tenantLimits = [
  'SIDECAR_MAX_MEMORY',
  'SIDECAR_MAX_CPU',
  'SIDECAR_MAX_REPLICAS',
  'SIDECAR_MAX_APPS_PER_TOKEN',
  'SIDECAR_MAX_JOBS_PER_APP',
  'SIDECAR_MAX_APP_VARS',
  'SIDECAR_MAX_APP_VARS_BYTES',
  'SIDECAR_MAX_APP_SETTINGS_BYTES',
] as const;

/** The variables each platform process reads. A process parses its own schema once, at start. */
export const ProcessEnv = {
  launcher: pick(
    'SIDECAR_REDIS_URL',
    'SIDECAR_LOG_FORMAT',
    'SIDECAR_LOG_LEVEL',
    ...images,
    'SIDECAR_DATA_DIR',
    'SIDECAR_ADMIN_TOKEN',
    'SIDECAR_EMBEDDED_REDIS_PORT',
    'SIDECAR_REDIS_MAX_MEMORY',
    'SIDECAR_API_PORT',
    'SIDECAR_ROUTER_PORT',
    'SIDECAR_APPS_DOMAIN',
    'SIDECAR_DOCKER_SOCKET',
  ).partial({ SIDECAR_REDIS_URL: true, SIDECAR_DATA_DIR: true, SIDECAR_ADMIN_TOKEN: true }),
  api: pick(
    ...shared,
    'SIDECAR_DATA_DIR',
    'SIDECAR_ADMIN_TOKEN',
    'SIDECAR_SECRETS_KEYS',
    'SIDECAR_API_HOST',
    'SIDECAR_API_PORT',
    'SIDECAR_ROUTER_PORT',
    'SIDECAR_APPS_DOMAIN',
    'SIDECAR_WEB_DIST',
    'SIDECAR_MAX_BUNDLE_BYTES',
    'SIDECAR_GIT_HTTP_BACKEND',
    'SIDECAR_GIT_LOCK_WAIT_MS',
    'SIDECAR_GIT_PUSH_TIMEOUT_MS',
    'SIDECAR_GIT_MAX_PUSH_BYTES',
    'SIDECAR_GIT_REPO_QUOTA_BYTES',
    ...tenantLimits,
  ),
  worker: pick(
    ...shared,
    ...images,
    'SIDECAR_DATA_DIR',
    'SIDECAR_SECRETS_KEYS',
    'SIDECAR_DOCKER_SOCKET',
    'SIDECAR_DOCKER_HOST',
    'SIDECAR_DOCKER_TLS_DIR',
    'SIDECAR_APPS_DOMAIN',
    'SIDECAR_TARGET',
    'SIDECAR_K8S_NAMESPACE',
    'SIDECAR_INGRESS_CLASS',
    'SIDECAR_INGRESS_HOST_PATTERN',
    'SIDECAR_REGISTRY',
    'SIDECAR_REGISTRY_USERNAME',
    'SIDECAR_REGISTRY_PASSWORD',
    'SIDECAR_K8S_PROGRESS_DEADLINE_SECONDS',
    'SIDECAR_K8S_IMAGE_PULL_SECRET',
    'SIDECAR_K8S_INGRESS_NAMESPACE_SELECTOR',
    'SIDECAR_K8S_INGRESS_POD_SELECTOR',
    'SIDECAR_K8S_DNS_NAMESPACE_SELECTOR',
    'SIDECAR_K8S_DNS_POD_SELECTOR',
    'SIDECAR_K8S_PRIVATE_CIDRS',
    'SIDECAR_BUILD_EXTRA_CA_FILE',
    'SIDECAR_BACKOFF_SCALE',
    'SIDECAR_BUILD_CONCURRENCY',
    'SIDECAR_DEPLOY_CONCURRENCY',
    'SIDECAR_KEEP_RELEASES',
    'SIDECAR_READY_TIMEOUT_MS',
    'SIDECAR_LOG_MAX_AGE_MS',
    'SIDECAR_BUNDLE_GRACE_MS',
    'SIDECAR_WARM_SANDBOXES',
    'SIDECAR_ROLLBACK_WINDOW_MS',
    'SIDECAR_STARTUP_CPU',
    'SIDECAR_STARTUP_CPU_MS',
    // The startup boost is never above what a tenant may ask for.
    'SIDECAR_MAX_CPU',
    'SIDECAR_MAX_UNPACKED_BYTES',
    'SIDECAR_MAX_BUNDLE_BYTES',
    'SIDECAR_MAX_ENTRIES',
    'SIDECAR_MAX_BUILD_BYTES',
    'SIDECAR_NPM_REGISTRY',
    'SIDECAR_NPM_PROXY',
    'SIDECAR_NPM_NO_PROXY',
    'SIDECAR_NPM_CACHE_MAX_BYTES',
    'SIDECAR_JOB_TIME_LIMIT_MS',
    'SIDECAR_JOB_CONCURRENCY',
    'SIDECAR_APP_LOG_VOLUME_SIZE',
  ).superRefine((env, ctx) => {
    // An engine over TCP is the privileged build daemon: only with mutual TLS (docs/kubernetes.md).
    if (env.SIDECAR_DOCKER_HOST && !env.SIDECAR_DOCKER_TLS_DIR)
      ctx.addIssue({ code: 'custom', path: ['SIDECAR_DOCKER_TLS_DIR'], message: 'required with SIDECAR_DOCKER_HOST' });
    if ((env.SIDECAR_REGISTRY_USERNAME === undefined) !== (env.SIDECAR_REGISTRY_PASSWORD === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [env.SIDECAR_REGISTRY_USERNAME === undefined ? 'SIDECAR_REGISTRY_USERNAME' : 'SIDECAR_REGISTRY_PASSWORD'],
        message: 'SIDECAR_REGISTRY_USERNAME and SIDECAR_REGISTRY_PASSWORD come together',
      });
    // The Kubernetes target cannot guess where apps are reachable or where nodes pull images from.
    if (env.SIDECAR_TARGET !== 'kubernetes') return;
    for (const key of ['SIDECAR_INGRESS_CLASS', 'SIDECAR_INGRESS_HOST_PATTERN', 'SIDECAR_REGISTRY'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'required when SIDECAR_TARGET=kubernetes' });
    }
  }),
  router: pick(
    ...shared,
    'SIDECAR_DATA_DIR',
    'SIDECAR_ADMIN_TOKEN',
    'SIDECAR_ROUTER_HOST',
    'SIDECAR_ROUTER_PORT',
    'SIDECAR_ROUTER_TLS_PORT',
    'SIDECAR_APPS_DOMAIN',
    'SIDECAR_HAPROXY_BIN',
    'SIDECAR_ROUTER_THREADS',
    'SIDECAR_ROUTER_MAX_CONNECTIONS',
    'SIDECAR_ROUTER_HEADER_TIMEOUT_MS',
    'SIDECAR_ROUTER_IDLE_TIMEOUT_MS',
    'SIDECAR_ROUTER_CONNECT_TIMEOUT_MS',
    'SIDECAR_ROUTER_RELOAD_GRACE_SECONDS',
    'SIDECAR_ROUTER_OLD_WORKERS_MAX',
    'SIDECAR_ROUTER_TRUSTED_PROXIES',
    'SIDECAR_ROUTER_METRICS_PORT',
    'SIDECAR_ROUTER_REQUEST_LOG',
    'SIDECAR_ROUTER_ACCESS_LOG',
    'SIDECAR_ROUTER_ACCESS_LOG_MAX_MIB',
  ).partial({ SIDECAR_ADMIN_TOKEN: true }),
  cli: pick(
    'SIDECAR_BACKOFF_SCALE',
    'SIDECAR_PAUSE_IMAGE',
    'SIDECAR_DOCKER_SOCKET',
    'SIDECAR_RUN_DIR',
    'SIDECAR_API_URL',
    'SIDECAR_TOKEN',
  ),
} as const;
export type ProcessName = keyof typeof ProcessEnv;
export type ConfigOf<P extends ProcessName> = Readonly<z.infer<(typeof ProcessEnv)[P]>>;
export type ApiConfig = ConfigOf<'api'>;
export type WorkerConfig = ConfigOf<'worker'>;
export type RouterConfig = ConfigOf<'router'>;
export type LauncherConfig = ConfigOf<'launcher'>;
export type CliConfigEnv = ConfigOf<'cli'>;

/** The tenant limits of an API configuration. */
export function tenantLimitsOf(config: ApiConfig): TenantLimits {
  return {
    maxMemory: config.SIDECAR_MAX_MEMORY,
    maxCpu: config.SIDECAR_MAX_CPU,
    maxReplicas: config.SIDECAR_MAX_REPLICAS,
    maxAppsPerToken: config.SIDECAR_MAX_APPS_PER_TOKEN,
    maxJobsPerApp: config.SIDECAR_MAX_JOBS_PER_APP,
    maxVars: config.SIDECAR_MAX_APP_VARS,
    maxVarsBytes: config.SIDECAR_MAX_APP_VARS_BYTES,
    maxSettingsBytes: config.SIDECAR_MAX_APP_SETTINGS_BYTES,
  };
}

/** A configuration a process cannot start with; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses the variables `proc` reads from `env` (only `SIDECAR_*` keys are looked at), validated and frozen.
 * Empty values count as unset, so `SIDECAR_X=` in a shell means "the default".
 */
export function loadConfig<P extends ProcessName>(proc: P, env: Record<string, string | undefined>): ConfigOf<P> {
  const relevant = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('SIDECAR_') && v !== undefined && v !== ''),
  );
  const parsed = ProcessEnv[proc].safeParse(relevant);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => {
        const name = i.path.join('.');
        return `${name}: ${relevant[name] === undefined && i.code === 'invalid_type' ? 'required' : i.message}`;
      })
      .join('; ');
    throw new ConfigError(`${proc}: invalid configuration: ${problems}`);
  }
  return Object.freeze(parsed.data) as ConfigOf<P>;
}

/** The processes that read `name` (for the generated documentation). */
export function readersOf(name: VariableName): ProcessName[] {
  return (Object.keys(ProcessEnv) as ProcessName[]).filter((p) => name in ProcessEnv[p].shape);
}
