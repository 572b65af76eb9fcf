import { z } from 'zod';
import { DEFAULT_BUNDLE_LIMITS } from '@sidecar/core';
import { DEFAULT_NPM_REGISTRY } from './builder/dependencies.js';

const Env = z
  .object({
    SIDECAR_REDIS_URL: z.string().url(),
    SIDECAR_REDIS_PREFIX: z.string().default('sidecar:'),
    /** `id:base64key,...` (first seals); default: `<data dir>/secrets.keys`, created on first start. */
    SIDECAR_SECRETS_KEYS: z.string().optional(),
    SIDECAR_DATA_DIR: z.string().min(1),
    SIDECAR_TARGET: z.enum(['docker', 'kubernetes']).default('docker'),
    /** SIDECAR_TARGET=kubernetes (docs/kubernetes.md): the apps' namespace, Ingress class and host pattern ("{app}.apps.example.com"). */
    SIDECAR_K8S_NAMESPACE: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/)
      .default('sidecar-apps'),
    SIDECAR_INGRESS_CLASS: z.string().min(1).optional(),
    SIDECAR_INGRESS_HOST_PATTERN: z.string().includes('{app}', { message: 'must contain {app}' }).optional(),
    SIDECAR_K8S_PROGRESS_DEADLINE_SECONDS: z.coerce.number().int().positive().default(600),
    /** Registry host[:port] logic images are pushed to (and the runtime image, on Kubernetes); manifests reference them by digest. */
    SIDECAR_REGISTRY: z
      .string()
      .regex(/^[a-zA-Z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/)
      .optional(),
    /** Labels every Docker object this platform creates; a platform adopts and removes only its own. */
    SIDECAR_PLATFORM_ID: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/)
      .default('default'),
    SIDECAR_DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
    /** Apps are served at `<app>.<domain>`: the name the platform CA puts in a TLS sidecar's certificate. */
    SIDECAR_APPS_DOMAIN: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i)
      .default('localhost'),
    /** An extra CA bundle trusted by build steps that reach the network (npm install), e.g. a corporate proxy's CA. */
    SIDECAR_BUILD_EXTRA_CA_FILE: z.string().optional(),
    /** Scales the kubelet's restart back-off (10 s doubling to 300 s); tests use a small factor. */
    SIDECAR_BACKOFF_SCALE: z.coerce.number().positive().max(1).default(1),
    SIDECAR_BUILD_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
    SIDECAR_DEPLOY_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
    /** Logic images of this many newest releases per app are kept; older ones are removed. */
    SIDECAR_KEEP_RELEASES: z.coerce.number().int().min(1).default(10),
    SIDECAR_READY_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
    /** App log lines older than this are dropped (besides the 20 000-line cap per app). */
    SIDECAR_LOG_MAX_AGE_MS: z.coerce
      .number()
      .int()
      .positive()
      .default(7 * 24 * 3600_000),
    /** Bundles no unfinished deploy needs are removed once older than this (bundle-gc.ts). */
    SIDECAR_BUNDLE_GRACE_MS: z.coerce.number().int().min(0).default(3_600_000),
    /** Warm network namespaces per port set on the Docker target (netns-pool.ts); 0 turns the pool off. */
    SIDECAR_WARM_SANDBOXES: z.coerce.number().int().min(0).max(16).default(2),
    SIDECAR_MAX_UNPACKED_BYTES: z.coerce.number().int().positive().default(DEFAULT_BUNDLE_LIMITS.maxUnpackedBytes),
    SIDECAR_MAX_BUNDLE_BYTES: z.coerce.number().int().positive().default(DEFAULT_BUNDLE_LIMITS.maxCompressedBytes),
    SIDECAR_MAX_ENTRIES: z.coerce.number().int().positive().default(DEFAULT_BUNDLE_LIMITS.maxEntries),
    /** The bundle with its installed dependencies (what goes into the image); a build past it fails. */
    SIDECAR_MAX_BUILD_BYTES: z.coerce.number().int().positive().default(DEFAULT_BUNDLE_LIMITS.maxBuildBytes),
    /** npm's registry, proxy and no-proxy hosts for builds: the only ones used, a bundle's .npmrc is ignored. */
    SIDECAR_NPM_REGISTRY: z.string().url().default(DEFAULT_NPM_REGISTRY),
    SIDECAR_NPM_PROXY: z.string().url().optional(),
    SIDECAR_NPM_NO_PROXY: z.string().min(1).optional(),
    /** An app's npm cache (`<data dir>/npm-cache/<app>`) past this is emptied before its next build. */
    SIDECAR_NPM_CACHE_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(1024 * 1024 * 1024),
  })
  .superRefine((env, ctx) => {
    // The Kubernetes target cannot guess where apps are reachable or where nodes pull images from.
    if (env.SIDECAR_TARGET !== 'kubernetes') return;
    for (const key of ['SIDECAR_INGRESS_CLASS', 'SIDECAR_INGRESS_HOST_PATTERN', 'SIDECAR_REGISTRY'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'required when SIDECAR_TARGET=kubernetes' });
    }
  });
export type WorkerConfig = Readonly<z.infer<typeof Env>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `worker: invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return Object.freeze(parsed.data);
}
