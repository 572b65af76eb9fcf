import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Logger } from '@sidecar/platform-process';
import { DomainError, ErrorCode, silentLog, type Log, type TenantLimits } from '@sidecar/core';
import type { FsBlobStore, Stores } from '@sidecar/store';
import { GitRepos, gitApiRoutes, gitRoutes, type GitSettings } from './git/index.js';
import { requireToken } from './http/auth.js';
import { createMetrics } from './http/metrics.js';
import { problemHandler } from './http/problem.js';
import { requestId } from './http/request-id.js';
import { appsRoutes } from './routes/apps.routes.js';
import { deploysRoutes } from './routes/deploys.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { jobsRoutes } from './routes/jobs.routes.js';
import { logsRoutes } from './routes/logs.routes.js';
import { metricsRoutes } from './routes/metrics.routes.js';
import { sidecarsRoutes } from './routes/sidecars.routes.js';
import { tokensRoutes } from './routes/tokens.routes.js';
import { manifestsRoutes } from './routes/manifests.routes.js';
import { openApiRoutes } from './routes/openapi.routes.js';
import { webRoutes } from './routes/web.routes.js';
import { AppService } from './services/app-service.js';
import { DeployService } from './services/deploy-service.js';
import { JobService } from './services/job-service.js';
import type { DeployQueues } from '@sidecar/store/queues';

export interface AppDeps {
  stores: Stores;
  blobs: FsBlobStore;
  queues: DeployQueues;
  maxBundleBytes: number;
  /** The URL an app is served at, e.g. http://hello.localhost:8080/ */
  urlFor: (app: string) => string;
  /** The built dashboard (web/dist); when absent, `/` is not served. */
  webDist?: string;
  /** `git push` (docs/git-push.md); when absent, /git is not served. */
  git?: GitSettings;
  /** The platform CA certificate (PEM) served at `GET /api/v1/ca.pem`; when absent, that endpoint is not served. */
  caCertPem?: string;
  /** How often long-lived responses re-check their token (default TOKEN_RECHECK_MS). */
  tokenRecheckMs?: number;
  /** The launcher's `supervisor.json`, shown by /readyz and /metrics (absent: not under the launcher). */
  supervisorFile?: string;
  /** The API's logger: request lines (with their request id) and errors. Absent (tests): nothing is logged. */
  logger?: Logger;
  /** What one tenant may ask for (default DEFAULT_TENANT_LIMITS). */
  limits?: TenantLimits;
}

/** The path as the client sent it (express rewrites `url` inside mounted routers). */
const urlOf = (req: { url?: string; originalUrl?: string }) => req.originalUrl ?? req.url;

/** Builds the express app from its dependencies; main.ts wires real ones, supertest imports this. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // The usual security headers on every response; the dashboard's policy: its own scripts only, never framed.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          // Charts and the timeline set element styles at run time.
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      // Served over plain HTTP on loopback by default; HSTS belongs to whatever terminates TLS in front.
      strictTransportSecurity: false,
      xFrameOptions: { action: 'deny' },
    }),
  );
  const metrics = createMetrics();
  const repos = deps.git ? new GitRepos(deps.git) : undefined;
  const log: Log = deps.logger ?? silentLog;
  // The app is gone already when its repository is removed; one left behind is replaced if the name is used again.
  const removeRepo = repos
    ? (name: string) =>
        repos.remove(name).catch((e: unknown) => log.warn({ app: name, err: e }, 'removing the git repository failed'))
    : undefined;
  const apps = new AppService({
    stores: deps.stores,
    queues: deps.queues,
    urlFor: deps.urlFor,
    ...(removeRepo ? { afterDelete: removeRepo } : {}),
    ...(deps.limits ? { limits: deps.limits } : {}),
  });
  const deploys = new DeployService(deps);

  app.use((req, res, next) => {
    (req as { id?: string }).id = requestId(req, res);
    next();
  });
  if (deps.logger) {
    app.use(
      pinoHttp({
        logger: deps.logger,
        genReqId: (req) => (req as { id?: string }).id ?? '',
        customProps: (req) => ({ reqId: req.id }),
        // Probes and scrapes would drown the lines that matter.
        autoLogging: { ignore: (req) => /^\/(healthz|readyz|metrics)\b/.test(req.url ?? '') },
        customSuccessMessage: (req, res, ms) => `${req.method} ${urlOf(req)} ${res.statusCode} ${Math.round(ms)} ms`,
        customErrorMessage: (req, res) => `${req.method} ${urlOf(req)} ${res.statusCode}`,
        serializers: {
          req: (r: { method: string; url: string }) => ({ method: r.method, url: r.url }),
          res: () => undefined,
        },
      }),
    );
  }
  app.use(metrics.middleware);
  app.use(healthRoutes({ stores: deps.stores, metrics, supervisorFile: deps.supervisorFile }));
  app.use(openApiRoutes());

  const api = express.Router();
  api.use(
    requireToken(deps.stores.tokens, deps.tokenRecheckMs !== undefined ? { recheckMs: deps.tokenRecheckMs } : {}),
  );
  api.use(express.json({ limit: '1mb', type: ['application/json', 'application/*+json'] }));
  api.use(appsRoutes({ stores: deps.stores, apps, deploys }));
  api.use(deploysRoutes({ stores: deps.stores, deploys }));
  api.use(jobsRoutes({ stores: deps.stores, jobs: new JobService(deps.stores, deps.queues, deps.limits) }));
  api.use(logsRoutes({ stores: deps.stores }));
  api.use(metricsRoutes({ stores: deps.stores }));
  api.use(tokensRoutes({ stores: deps.stores }));
  api.use(
    sidecarsRoutes({ stores: deps.stores, ...(deps.caCertPem !== undefined ? { caCertPem: deps.caCertPem } : {}) }),
  );
  api.use(manifestsRoutes({ stores: deps.stores }));
  if (deps.git) api.use(gitApiRoutes({ stores: deps.stores, git: deps.git }));
  api.use((req) => {
    throw new DomainError(ErrorCode.notFound, `no such endpoint: ${req.method} ${req.originalUrl}`);
  });
  // git's raw body stream: before any body parser, outside /api/v1.
  if (deps.git) app.use('/git', gitRoutes({ ...deps, git: deps.git, log }));
  app.use('/api/v1', api);
  app.use('/api', (req) => {
    throw new DomainError(ErrorCode.notFound, `no such endpoint: ${req.method} ${req.originalUrl}`);
  });
  if (deps.webDist) app.use(webRoutes(deps.webDist));
  app.use(problemHandler(log));
  return app;
}
