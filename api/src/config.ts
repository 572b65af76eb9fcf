import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_BUNDLE_LIMITS } from '@sidecar/core';

const Env = z.object({
  SIDECAR_API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  SIDECAR_API_HOST: z.string().default('127.0.0.1'),
  SIDECAR_REDIS_URL: z.string().url(),
  SIDECAR_REDIS_PREFIX: z.string().default('sidecar:'),
  /** `id:base64key,...` (first seals); default: `<data dir>/secrets.keys`, created on first start. */
  SIDECAR_SECRETS_KEYS: z.string().optional(),
  SIDECAR_DATA_DIR: z.string().min(1),
  SIDECAR_ADMIN_TOKEN: z.string().min(16, 'SIDECAR_ADMIN_TOKEN must be at least 16 characters'),
  SIDECAR_APPS_DOMAIN: z.string().default('localhost'),
  SIDECAR_ROUTER_PORT: z.coerce.number().int().default(8080),
  SIDECAR_TARGET: z.enum(['docker', 'kubernetes']).default('docker'),
  /** What `GET /apps/:app/manifests?target=kubernetes` renders with (docs/kubernetes.md); the worker reads the same variables. */
  SIDECAR_PLATFORM_ID: z.string().default('default'),
  SIDECAR_K8S_NAMESPACE: z.string().default('sidecar-apps'),
  SIDECAR_INGRESS_CLASS: z.string().default('nginx'),
  SIDECAR_INGRESS_HOST_PATTERN: z.string().includes('{app}').default('{app}.apps.example.com'),
  SIDECAR_REGISTRY: z.string().optional(),
  SIDECAR_MAX_BUNDLE_BYTES: z.coerce.number().int().positive().default(DEFAULT_BUNDLE_LIMITS.maxCompressedBytes),
  /** git push (docs/git-push.md): git's CGI program, how long a second push waits for the app's deploy lock,
   *  how long a push waits for its deploy, and the largest pack a push may send. */
  SIDECAR_GIT_HTTP_BACKEND: z.string().min(1).default('/usr/lib/git-core/git-http-backend'),
  SIDECAR_GIT_LOCK_WAIT_MS: z.coerce.number().int().min(0).default(60_000),
  SIDECAR_GIT_PUSH_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(30 * 60_000),
  SIDECAR_GIT_MAX_PUSH_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(2 * 1024 ** 3),
  /** The built dashboard (web/dist of this checkout unless set); served at `/`. */
  SIDECAR_WEB_DIST: z
    .string()
    .min(1)
    .default(resolve(import.meta.dirname, '../../web/dist')),
});
export type ApiConfig = Readonly<z.infer<typeof Env>>;

/** Read once at start, validated, frozen; passed down, never re-read. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `api: invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return Object.freeze(parsed.data);
}
