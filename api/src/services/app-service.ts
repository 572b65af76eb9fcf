import { z } from 'zod';
import {
  type App,
  APP_DEFAULTS,
  type TlsSettings,
  assertAppName,
  DomainError,
  ErrorCode,
  maskSecrets,
  MAX_REPLICAS,
  mergeVars,
  NetworkInput,
  parseCpu,
  parseMemory,
} from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import type { DeployQueues } from '@sidecar/store';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = new Set(['PORT', 'SIDECAR_APP', 'SIDECAR_RELEASE']);
export const envKey = z
  .string()
  .regex(ENV_NAME, 'environment variable names are letters, digits and _, not starting with a digit')
  .refine((k) => !RESERVED_ENV.has(k), `${[...RESERVED_ENV].join(', ')} are set by the platform`);
const vars = z.record(envKey, z.string().max(32_768));
const varsPatch = z.record(envKey, z.string().max(32_768).nullable());
const memory = z.string().refine((q) => {
  try {
    return parseMemory(q) >= 128 * 1024 ** 2;
  } catch {
    return false;
  }
}, 'memory must be a quantity of at least 128Mi (e.g. "256Mi")');
const cpu = z.string().refine((q) => {
  try {
    return parseCpu(q) >= 10e6;
  } catch {
    return false;
  }
}, 'cpu must be a quantity like "500m" or "1"');
const resources = z.object({ memory: memory.optional(), cpu: cpu.optional() }).strict();
const pem = (label: string) =>
  z
    .string()
    .max(65_536)
    .refine(
      (v) => new RegExp(`-----BEGIN ${label}-----[\\s\\S]+-----END ${label}-----`).test(v),
      `a PEM ${label.toLowerCase()}`,
    );
const sidecars = z
  .object({
    logs: z.boolean().optional(),
    procinfo: z.boolean().optional(),
    tls: z
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
      .optional(),
  })
  .strict();

/** The TLS settings after a create or PATCH: a given cert+key replaces the stored pair, `enabled` alone keeps it. */
function tlsSettings(current: TlsSettings, patch: z.infer<typeof sidecars>['tls']): TlsSettings {
  if (!patch) return current;
  const pair =
    patch.cert !== undefined && patch.key !== undefined
      ? { cert: patch.cert, key: patch.key }
      : current.cert !== undefined && current.key !== undefined
        ? { cert: current.cert, key: current.key }
        : {};
  return { enabled: patch.enabled, ...pair };
}

const CreateBody = z
  .object({
    name: z.unknown(),
    runtime: z.literal('node').optional(),
    env: vars.optional(),
    secrets: vars.optional(),
    replicas: z.number().int().min(0).max(MAX_REPLICAS).optional(),
    resources: resources.optional(),
    sidecars: sidecars.optional(),
    network: NetworkInput.optional(),
  })
  .strict();
const PatchBody = z
  .object({
    env: varsPatch.optional(),
    secrets: varsPatch.optional(),
    replicas: z.number().int().min(0).max(MAX_REPLICAS).optional(),
    resources: resources.optional(),
    sidecars: sidecars.optional(),
    network: NetworkInput.optional(),
  })
  .strict();

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
    throw new DomainError(ErrorCode.invalidRequest, msg);
  }
  return r.data;
}

export interface AppView extends Omit<App, 'secrets'> {
  secrets: Record<string, string>;
  url: string;
}

export class AppService {
  constructor(
    private readonly stores: Stores,
    private readonly queues: DeployQueues,
    private readonly urlFor: (app: string) => string,
    /** What else an app leaves behind outside Redis (its git repository), removed after the app. */
    private readonly afterDelete: (app: string) => Promise<void> = () => Promise.resolve(),
  ) {}

  view(app: App): AppView {
    // Like secrets, a TLS private key is never returned.
    const { key, ...tls } = app.sidecars.tls;
    const sidecars = { ...app.sidecars, tls: key === undefined ? tls : { ...tls, key: '******' } };
    return { ...app, sidecars, secrets: maskSecrets(app.secrets), url: this.urlFor(app.name) };
  }

  async create(body: unknown): Promise<App> {
    const b = parseBody(CreateBody, body);
    const name = assertAppName(b.name);
    const app: App = {
      name,
      runtime: 'node',
      env: b.env ?? {},
      secrets: b.secrets ?? {},
      replicas: b.replicas ?? APP_DEFAULTS.replicas,
      resources: { ...APP_DEFAULTS.resources, ...b.resources },
      sidecars: {
        logs: b.sidecars?.logs ?? APP_DEFAULTS.sidecars.logs,
        procinfo: b.sidecars?.procinfo ?? APP_DEFAULTS.sidecars.procinfo,
        tls: tlsSettings({ enabled: false }, b.sidecars?.tls),
      },
      network: { egress: b.network?.egress ?? APP_DEFAULTS.network.egress },
      currentRelease: null,
      status: 'new',
      createdAt: new Date().toISOString(),
    };
    return this.stores.apps.create(app);
  }

  /**
   * Stores the settings; when the app is deployed and something its pods are made
   * from changed (env, secrets, replicas, resources, sidecars), rolls out a new release of
   * the same images (API.md: "a change rolls out a new release").
   */
  async patch(name: string, body: unknown, rollout: (app: App) => Promise<unknown>): Promise<App> {
    const b = parseBody(PatchBody, body);
    const before = await this.stores.apps.get(name);
    const after = await this.stores.apps.update(name, (app) => ({
      ...app,
      env: b.env ? mergeVars(app.env, b.env) : app.env,
      secrets: b.secrets ? mergeVars(app.secrets, b.secrets) : app.secrets,
      replicas: b.replicas ?? app.replicas,
      resources: { ...app.resources, ...b.resources },
      sidecars: {
        logs: b.sidecars?.logs ?? app.sidecars.logs,
        procinfo: b.sidecars?.procinfo ?? app.sidecars.procinfo,
        tls: tlsSettings(app.sidecars.tls, b.sidecars?.tls),
      },
      network: { egress: b.network?.egress ?? app.network?.egress ?? APP_DEFAULTS.network.egress },
    }));
    const podInputs = (a: App) =>
      JSON.stringify([
        a.env,
        a.secrets,
        a.replicas,
        a.resources,
        a.sidecars,
        a.network?.egress ?? APP_DEFAULTS.network.egress,
      ]);
    if (after.currentRelease !== null && podInputs(before) !== podInputs(after)) {
      await rollout(after);
      return this.stores.apps.get(name);
    }
    return after;
  }

  /** Stops outstanding deploys, takes the app off the router at once, and has the worker remove its pods. */
  async delete(name: string): Promise<void> {
    await this.stores.apps.get(name);
    for (const d of await this.stores.deploys.list(name)) {
      if (!['succeeded', 'failed', 'cancelled'].includes(d.status)) await this.stores.deploys.requestCancel(d.id);
    }
    await this.stores.routes.remove(name);
    await this.queues.enqueueRemoval(name);
    await this.stores.apps.delete(name);
    await this.stores.deploys.removeApp(name);
    await this.stores.jobs.removeApp(name);
    await this.stores.appLogs.remove(name);
    // The app is gone already; a repository left behind is replaced if the name is used again.
    await this.afterDelete(name).catch((e: unknown) =>
      console.error(`api: deleting ${name}: ${e instanceof Error ? e.message : String(e)}`),
    );
  }
}
