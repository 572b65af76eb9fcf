import { type ErrorRequestHandler, type Request, Router } from 'express';
import { DomainError, ErrorCode, isDomainError, type Log, type TenantLimits } from '@sidecar/core';
import type { FsBlobStore, Stores } from '@sidecar/store';
import type { DeployQueues } from '@sidecar/store/queues';
import { statusOf } from '../http/problem.js';
import { AppService } from '../services/app-service.js';
import { DeployService } from '../services/deploy-service.js';
import { appForGit, authenticate, GitService } from './git-access.js';
import type { GitSettings } from './git-settings.js';
import { EXIT_MARKER, installHooks } from './hook-script.js';
import { runHttpBackend } from './http-backend.js';
import { PushDeployer } from './push-deployer.js';
import { PushSessions } from './push-sessions.js';
import { parseRefUpdates } from './ref-updates.js';
import { GitRepos } from './repos.js';

export interface GitRoutesDeps {
  stores: Stores;
  blobs: FsBlobStore;
  queues: DeployQueues;
  maxBundleBytes: number;
  urlFor: (app: string) => string;
  git: GitSettings;
  log: Log;
  /** A first push creates its app: the same limits as POST /apps. */
  limits?: TenantLimits;
}

const HOOK_PATH = '/_hooks/pre-receive';
const SMART_PATH = /^\/([^/]+)\.git(\/info\/refs|\/git-upload-pack|\/git-receive-pack)$/;

/**
 * Git over smart HTTP at /git/<app>.git (mounted outside /api/v1 and before any body parser:
 * the body is git's raw stream). Clone and fetch serve the app's bare repository; a push runs
 * receive-pack, whose pre-receive hook calls back to HOOK_PATH to deploy (docs/git-push.md).
 */
export function gitRoutes(deps: GitRoutesDeps): Router {
  const r = Router();
  const { stores, git } = deps;
  const repos = new GitRepos(git);
  const sessions = new PushSessions(deps.log);
  const apps = new AppService({
    stores,
    queues: deps.queues,
    urlFor: deps.urlFor,
    ...(deps.limits ? { limits: deps.limits } : {}),
  });
  const deployer = new PushDeployer({
    stores,
    repos,
    git,
    maxBundleBytes: deps.maxBundleBytes,
    urlFor: deps.urlFor,
    deploys: new DeployService(deps),
    log: deps.log,
  });
  let hooks: Promise<void> | undefined;
  const hooksInstalled = () =>
    (hooks ??= installHooks(git).catch((e: unknown) => {
      hooks = undefined;
      throw e;
    }));

  // The hook of a push in flight; the single-use secret in its environment is its only credential.
  r.post(HOOK_PATH, async (req, res) => {
    const session = sessions.find(req.get('x-sidecar-push-secret') ?? '');
    if (!session?.claim()) {
      res.status(403).type('text/plain').send(`this push is not known to the platform\n${EXIT_MARKER}1\n`);
      return;
    }
    const body = JSON.parse(await readSmall(req, 8 * 1024 * 1024)) as { refs?: unknown; quarantine?: unknown };
    res.status(200).type('text/plain; charset=utf-8');
    res.flushHeaders();
    // The hook gone (killed with its push) ends the session: the deploy is cancelled.
    res.on('close', () => {
      if (!res.writableFinished) void session.close();
    });
    // NULs are dropped so that no log line can pass for the exit marker.
    const out = (line: string) => {
      if (!res.writableEnded) res.write(`${line.replaceAll('\u0000', ' ').replace(/[\r\n]/g, ' ')}\n`);
    };
    const code = await deployer.run({
      session,
      out,
      updates: parseRefUpdates(typeof body.refs === 'string' ? body.refs : ''),
      quarantine: typeof body.quarantine === 'string' ? body.quarantine : null,
    });
    res.end(`${EXIT_MARKER}${code}\n`);
  });

  r.use(async (req, res) => {
    const m = SMART_PATH.exec(req.path);
    if (!m) throw new DomainError(ErrorCode.notFound, 'not a git path: the remote is http://HOST/git/<app>.git');
    const [, name = '', rest = ''] = m;
    const service = serviceOf(req, rest);
    const token = await authenticate(stores.tokens, req.get('authorization'));
    const app = await appForGit({ stores, apps, token, name, service });
    await hooksInstalled();
    const repo = await repos.ensure(app);
    const call = {
      req,
      res,
      pathInfo: `/${app.name}.git${rest}`,
      query: rest === '/info/refs' ? `service=${service}` : '',
      remoteUser: token.name.replace(/[^\w.@-]/g, '_') || 'sidecar',
      log: deps.log,
    };
    if (service !== GitService.receivePack || rest === '/info/refs') {
      await runHttpBackend(git, call);
      return;
    }
    const session = sessions.start(app.name, repo);
    try {
      await runHttpBackend(git, {
        ...call,
        env: { SIDECAR_GIT_HOOK_URL: hookUrl(req), SIDECAR_GIT_HOOK_SECRET: session.secret },
      });
    } finally {
      await session.close();
    }
  });

  r.use(gitErrors(deps.log));
  return r;
}

function serviceOf(req: Request, rest: string): GitService {
  const wanted = rest === '/info/refs' ? req.query.service : rest.slice(1);
  if (wanted !== GitService.uploadPack && wanted !== GitService.receivePack) {
    throw new DomainError(ErrorCode.invalidRequest, 'only the smart HTTP protocol is served; use git 1.6.6 or newer');
  }
  if (req.method !== (rest === '/info/refs' ? 'GET' : 'POST')) {
    throw new DomainError(ErrorCode.invalidRequest, `${req.method} is not how git asks for ${req.path}`);
  }
  return wanted;
}

/** Where the hook reaches this very process: the address and port the push came in on. */
function hookUrl(req: Request): string {
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return `http://${host}:${req.socket.localPort}${req.baseUrl}${HOOK_PATH}`;
}

async function readSmall(req: Request, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new DomainError(ErrorCode.invalidRequest, 'hook request too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * git shows a failed request's body to the user (as `remote:` lines) only when it is text/plain,
 * so git paths answer errors in plain text; the status still comes from the one mapping.
 */
const gitErrors =
  (log: Log): ErrorRequestHandler =>
  (err: unknown, _req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    let status = 500;
    let message = 'internal error; see the platform log';
    if (isDomainError(err)) {
      status = statusOf(err.code);
      message = err.message;
      if (err.code === ErrorCode.unauthorized) res.set('WWW-Authenticate', 'Basic realm="sidecar"');
    } else if (err instanceof SyntaxError) {
      status = 400;
      message = 'the hook sent a body that is not JSON';
    } else {
      log.error({ err }, 'git: unexpected error');
    }
    res.status(status).type('text/plain; charset=utf-8').send(`${message}\n`);
  };
