import { z } from 'zod';
import {
  AppStatus,
  Egress,
  HTTP_LIMITS,
  type HttpSettings,
  IDLE_SECONDS_LIMITS,
  parseCpu,
  parseMemory,
} from '../app.js';
import { AppName, Timestamp } from './common.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = ['PORT', 'SIDECAR_APP', 'SIDECAR_RELEASE'] as const;
const reserved: ReadonlySet<string> = new Set(RESERVED_ENV);

/** An environment variable name an app may set (the platform sets PORT, SIDECAR_APP and SIDECAR_RELEASE itself). */
export const EnvKey = z
  .string()
  .regex(ENV_NAME, 'environment variable names are letters, digits and _, not starting with a digit')
  .refine((k) => !reserved.has(k), `${RESERVED_ENV.join(', ')} are set by the platform`);
const envValue = z.string().max(32_768);
export const EnvVars = z.record(EnvKey, envValue);
/** A PATCH of variables: a key set to null is removed. */
const envVarsPatch = z.record(EnvKey, envValue.nullable());

/** True when `parse` accepts the quantity and it is at least `min`. */
const quantityAtLeast = (parse: (q: string) => number, min: number) => (q: string) => {
  try {
    return parse(q) >= min;
  } catch {
    return false;
  }
};
const memory = z
  .string()
  .refine(quantityAtLeast(parseMemory, 128 * 1024 ** 2), 'memory must be a quantity of at least 128Mi (e.g. "256Mi")')
  .meta({
    description:
      'A Kubernetes memory quantity of at least 128Mi; more than the platform maximum (SIDECAR_MAX_MEMORY, default 2Gi) is 422 `limit_exceeded`',
    examples: ['256Mi'],
  });
const cpu = z
  .string()
  .refine(quantityAtLeast(parseCpu, 10e6), 'cpu must be a quantity like "500m" or "1"')
  .meta({
    description:
      'A Kubernetes CPU quantity of at least 10m; more than the platform maximum (SIDECAR_MAX_CPU, default 2) is 422 `limit_exceeded`',
    examples: ['500m'],
  });
const ResourcesInput = z.object({ memory: memory.optional(), cpu: cpu.optional() }).strict();

const pem = (label: string) =>
  z
    .string()
    .max(65_536)
    .refine(
      (v) => new RegExp(`-----BEGIN ${label}-----[\\s\\S]+-----END ${label}-----`).test(v),
      `a PEM ${label.toLowerCase()}`,
    );
const TlsInput = z
  .object({
    enabled: z.boolean(),
    cert: pem('CERTIFICATE').optional(),
    key: pem('(?:EC |RSA )?PRIVATE KEY').optional(),
  })
  .strict()
  .refine(
    (t) => (t.cert === undefined) === (t.key === undefined),
    'cert and key come together (or neither: the platform CA issues one)',
  )
  .meta({ description: 'The TLS sidecar. A PATCH with only `enabled` keeps a stored certificate and key' });
export const SidecarsInput = z
  .object({
    logs: z.boolean().optional().meta({ description: 'The log shipper (default on)' }),
    procinfo: z.boolean().optional().meta({ description: 'The process lister (default off)' }),
    tls: TlsInput.optional(),
  })
  .strict()
  .meta({ description: 'Platform sidecars (docs/sidecars.md); a change rolls out a new release' });
export type SidecarsInput = z.infer<typeof SidecarsInput>;

const replicas = z.number().int().min(0).meta({
  description: 'More than the platform maximum (SIDECAR_MAX_REPLICAS, default 10) is 422 `limit_exceeded`',
});

const VARS_LIMITS =
  'Each value at most 32 KiB. env and secrets together: at most SIDECAR_MAX_APP_VARS variables (default 200) and SIDECAR_MAX_APP_VARS_BYTES of names and values (default 64 KiB), and all settings at most SIDECAR_MAX_APP_SETTINGS_BYTES as stored (default 256 KiB); more is 422 `limit_exceeded`';

const httpLimit = (key: keyof HttpSettings, description: string) =>
  z.number().int().min(HTTP_LIMITS[key].min).max(HTTP_LIMITS[key].max).optional().meta({ description });
/** The router's treatment of the app's traffic (docs/router.md); unset keys keep their value or default. */
export const HttpInput = z
  .object({
    drainSeconds: httpLimit(
      'drainSeconds',
      'How long upgraded connections to an old pod may stay open on a redeploy (default 30)',
    ),
    timeoutSeconds: httpLimit(
      'timeoutSeconds',
      "How long the router waits for the app's answer, then 504 (default 60)",
    ),
    maxBodyMiB: httpLimit('maxBodyMiB', 'The largest request body, then 413 (default 100)'),
    maxConcurrent: httpLimit(
      'maxConcurrent',
      'Requests in flight to the app, then 503 with Retry-After (default 1000)',
    ),
  })
  .strict()
  .meta({ description: "The router's per-app limits; applied within 2 s, no new release" });
export type HttpInput = z.infer<typeof HttpInput>;

/** Scale to zero (docs/scale-to-zero.md); unset keys keep their value or default. */
export const ScaleToZeroInput = z
  .object({
    enabled: z.boolean().optional().meta({ description: 'Suspend the pods when the app is idle (default off)' }),
    idleSeconds: z.number().int().min(IDLE_SECONDS_LIMITS.min).max(IDLE_SECONDS_LIMITS.max).optional().meta({
      description: 'Seconds without a request or an open connection before the pods are suspended (default 300)',
    }),
  })
  .strict()
  .meta({
    description:
      'Scale to zero: the idle app is suspended, the next request wakes it (held, never failed). Docker target; no new release',
  });
export type ScaleToZeroInput = z.infer<typeof ScaleToZeroInput>;

/** Where the app's pods may connect to (enforced by the Kubernetes target's NetworkPolicies, docs/kubernetes.md). */
export const NetworkInput = z
  .object({
    egress: z.enum([Egress.internet, Egress.none]).optional().meta({
      description:
        '`internet`: DNS and addresses outside the cluster (default); `none`: nothing. Never the platform itself',
    }),
  })
  .strict()
  .meta({ description: "The app's network (Kubernetes target); a change rolls out a new release" });
export type NetworkInput = z.infer<typeof NetworkInput>;

export const CreateAppBody = z
  .object({
    name: AppName,
    runtime: z.literal('node').optional(),
    env: EnvVars.optional().meta({ description: VARS_LIMITS }),
    secrets: EnvVars.optional().meta({ description: `Stored sealed; their values are never answered. ${VARS_LIMITS}` }),
    replicas: replicas.optional().meta({
      description:
        'Default 1; more than the platform maximum (SIDECAR_MAX_REPLICAS, default 10) is 422 `limit_exceeded`',
    }),
    resources: ResourcesInput.optional(),
    sidecars: SidecarsInput.optional(),
    http: HttpInput.optional(),
    network: NetworkInput.optional(),
    scaleToZero: ScaleToZeroInput.optional(),
  })
  .strict()
  .meta({ id: 'CreateApp' });
export type CreateAppBody = z.infer<typeof CreateAppBody>;

export const PatchAppBody = z
  .object({
    env: envVarsPatch.optional().meta({ description: VARS_LIMITS }),
    secrets: envVarsPatch.optional().meta({ description: VARS_LIMITS }),
    replicas: replicas.optional(),
    resources: ResourcesInput.optional(),
    sidecars: SidecarsInput.optional(),
    http: HttpInput.optional(),
    network: NetworkInput.optional(),
    scaleToZero: ScaleToZeroInput.optional(),
  })
  .strict()
  .meta({
    id: 'PatchApp',
    description:
      'Settings to change; a key of env or secrets set to null is removed. On a deployed app, a change of what its pods are made from rolls out a new release of the same images',
  });
export type PatchAppBody = z.infer<typeof PatchAppBody>;

/** Secret values (and a TLS private key) are answered as this mask, never in clear. */
const masked = z.string().meta({ description: 'Always "******"' });

export const AppView = z
  .object({
    name: AppName,
    runtime: z.literal('node'),
    env: z.record(z.string(), z.string()),
    secrets: z.record(z.string(), masked).meta({ description: 'Keys only: every value is "******"' }),
    replicas: z.number().int(),
    resources: z.object({ memory: z.string(), cpu: z.string() }),
    sidecars: z.object({
      logs: z.boolean(),
      procinfo: z.boolean(),
      tls: z.object({ enabled: z.boolean(), cert: z.string().optional(), key: masked.optional() }),
    }),
    http: z
      .object({
        drainSeconds: z.number().int(),
        timeoutSeconds: z.number().int(),
        maxBodyMiB: z.number().int(),
        maxConcurrent: z.number().int(),
      })
      .meta({ description: "The router's per-app limits in force, defaults included" }),
    network: z.object({ egress: z.enum([Egress.internet, Egress.none]) }),
    scaleToZero: z
      .object({ enabled: z.boolean(), idleSeconds: z.number().int() })
      .meta({ description: 'Scale to zero in force, defaults included' }),
    url: z.string().meta({ description: 'Where the app is served', examples: ['http://hello.localhost:8080/'] }),
    currentRelease: z.number().int().nullable(),
    status: z.enum(AppStatus),
    createdAt: Timestamp,
  })
  .meta({ id: 'App' });
export type AppView = z.infer<typeof AppView>;
