import { z } from 'zod';
import {
  type App,
  APP_DEFAULTS,
  assertAppName,
  checkAppSettings,
  DEFAULT_TENANT_LIMITS,
  DomainError,
  ErrorCode,
  type HttpSettings,
  httpSettings,
  type ScaleToZeroSettings,
  scaleToZeroSettings,
  maskSecrets,
  mergeVars,
  type TenantLimits,
  type TlsSettings,
} from '@sidecar/core';
import {
  type AppView,
  CreateAppBody,
  type HttpInput,
  type ScaleToZeroInput,
  PatchAppBody,
  parseInput,
  type SidecarsInput,
} from '@sidecar/core/wire';
import type { Stores } from '@sidecar/store';
import type { DeployQueues } from '@sidecar/store/queues';

/** The create body with `name` left to assertAppName, whose own code (`invalid_name`) a bad name answers. */
const CreateBody = CreateAppBody.extend({ name: z.unknown() });

/** The TLS settings after a create or PATCH: a given cert+key replaces the stored pair, `enabled` alone keeps it. */
function tlsSettings(current: TlsSettings, patch: SidecarsInput['tls']): TlsSettings {
  if (!patch) return current;
  const pair =
    patch.cert !== undefined && patch.key !== undefined
      ? { cert: patch.cert, key: patch.key }
      : current.cert !== undefined && current.key !== undefined
        ? { cert: current.cert, key: current.key }
        : {};
  return { enabled: patch.enabled, ...pair };
}

/** Drops keys given as undefined, so a PATCH of one router setting keeps the others. */
function definedOnly(patch: HttpInput | undefined): Partial<HttpSettings>;
function definedOnly(patch: ScaleToZeroInput | undefined): Partial<ScaleToZeroSettings>;
function definedOnly(patch: object | undefined): object {
  return Object.fromEntries(Object.entries(patch ?? {}).filter(([, v]) => v !== undefined));
}

/** A PATCH of variables adds or changes one (rather than only removing some). */
const grows = (patch: Record<string, string | null> | undefined) =>
  patch !== undefined && Object.values(patch).some((v) => v !== null);

/** Who asks: the token a new app counts against (deployer tokens only: admin tokens are the operator's). */
export interface Requester {
  tokenId: string;
  role: 'admin' | 'deployer';
}

export interface AppServiceDeps {
  stores: Stores;
  queues: DeployQueues;
  urlFor: (app: string) => string;
  /** What else an app leaves behind outside Redis (its git repository), removed after the app. */
  afterDelete?: (app: string) => Promise<void>;
  /** Default: DEFAULT_TENANT_LIMITS. */
  limits?: TenantLimits;
}

export class AppService {
  private readonly stores: Stores;
  private readonly queues: DeployQueues;
  private readonly urlFor: (app: string) => string;
  private readonly afterDelete: (app: string) => Promise<void>;
  private readonly limits: TenantLimits;

  constructor(deps: AppServiceDeps) {
    this.stores = deps.stores;
    this.queues = deps.queues;
    this.urlFor = deps.urlFor;
    this.afterDelete = deps.afterDelete ?? (() => Promise.resolve());
    this.limits = deps.limits ?? DEFAULT_TENANT_LIMITS;
  }

  view(app: App): AppView {
    // Like secrets, a TLS private key is never returned.
    const { key, ...tls } = app.sidecars.tls;
    const sidecars = { ...app.sidecars, tls: key === undefined ? tls : { ...tls, key: '******' } };
    const { http, ...rest } = app;
    return {
      ...rest,
      sidecars,
      http: httpSettings(http),
      network: app.network ?? APP_DEFAULTS.network,
      scaleToZero: scaleToZeroSettings(app.scaleToZero),
      secrets: maskSecrets(app.secrets),
      url: this.urlFor(app.name),
    };
  }

  async create(body: unknown, by?: Requester): Promise<App> {
    const b = parseInput(CreateBody, body);
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
      http: definedOnly(b.http),
      network: { egress: b.network?.egress ?? APP_DEFAULTS.network.egress },
      scaleToZero: definedOnly(b.scaleToZero),
      currentRelease: null,
      status: 'new',
      createdAt: new Date().toISOString(),
    };
    checkAppSettings(
      app,
      { resources: b.resources, replicas: b.replicas, varsGrew: b.env !== undefined || b.secrets !== undefined },
      this.limits,
    );
    await this.checkScaleToZero(app);
    const creator = by && {
      tokenId: by.tokenId,
      ...(by.role === 'deployer' ? { maxApps: this.limits.maxAppsPerToken } : {}),
    };
    const created = await this.stores.apps.create(app, creator);
    // The router knows the app from now on (503 no_ready_pod until a pod is ready, not 404): it makes the app's
    // backend with a reload now rather than while the first deploy builds. The worker declares it again then,
    // so a failure here is left to it. Scale to zero or not: with nothing to wake, requests are not held.
    await this.stores.routes.declare(name).catch(() => undefined);
    return created;
  }

  /**
   * Stores the settings; when the app is deployed and something its pods are made
   * from changed (env, secrets, replicas, resources, sidecars), rolls out a new release of
   * the same images (API.md: "a change rolls out a new release").
   */
  async patch(name: string, body: unknown, rollout: (app: App) => Promise<unknown>): Promise<App> {
    const b = parseInput(PatchAppBody, body);
    if (b.scaleToZero?.enabled) await this.checkScaleToZero({ scaleToZero: b.scaleToZero });
    const before = await this.stores.apps.get(name);
    const after = await this.stores.apps.update(name, (app) => {
      const next: App = {
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
        // The router applies these on its own (no new release): they are not pod inputs.
        http: { ...app.http, ...definedOnly(b.http) },
        network: { egress: b.network?.egress ?? app.network?.egress ?? APP_DEFAULTS.network.egress },
        // Like http: the worker and the router follow it on their own, no new release.
        scaleToZero: { ...app.scaleToZero, ...definedOnly(b.scaleToZero) },
      };
      const varsGrew = grows(b.env) || grows(b.secrets);
      checkAppSettings(next, { before: app, resources: b.resources, replicas: b.replicas, varsGrew }, this.limits);
      return next;
    });
    // The network is a pod input on Kubernetes (its NetworkPolicy): a change rolls out like the others.
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

  /**
   * Scale to zero needs the platform's own router, which holds a request while the app wakes: on the
   * Kubernetes target requests go through the cluster's ingress controller, which cannot.
   */
  private async checkScaleToZero(app: Pick<App, 'scaleToZero'>): Promise<void> {
    if (!scaleToZeroSettings(app.scaleToZero).enabled) return;
    if ((await this.stores.platform.backend())?.target === 'kubernetes')
      throw new DomainError(
        ErrorCode.unsupported,
        'scale to zero needs the Docker target: on Kubernetes the ingress controller cannot hold requests while an app wakes (use KEDA or Knative there)',
      );
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
    await this.stores.appTraffic.remove(name);
    await this.stores.activity.remove(name);
    // The app is gone already; the hook reports its own failures (app.ts).
    await this.afterDelete(name);
  }
}
