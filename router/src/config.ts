import { z } from 'zod';

const Env = z.object({
  SIDECAR_ROUTER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  SIDECAR_ROUTER_HOST: z.string().default('127.0.0.1'),
  /** HTTPS: TLS passed through by SNI to the apps' TLS sidecars (docs/sidecars.md). */
  SIDECAR_ROUTER_TLS_PORT: z.coerce.number().int().min(0).max(65535).default(8443),
  SIDECAR_APPS_DOMAIN: z.string().default('localhost'),
  SIDECAR_REDIS_URL: z.string().url(),
  SIDECAR_REDIS_PREFIX: z.string().default('sidecar:'),
});
export type RouterConfig = Readonly<z.infer<typeof Env>>;

/** Read once at start, validated, frozen. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success)
    throw new Error(
      `router: invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return Object.freeze(parsed.data);
}
