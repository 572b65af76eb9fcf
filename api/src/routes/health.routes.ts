import { Router, type Request } from 'express';
import { DomainError, ErrorCode } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import type { Metrics } from '../http/metrics.js';
import { readSupervisor, supervisorCheck } from '../http/supervisor.js';

/** A scrape from this host (the API binds loopback by default); elsewhere /metrics needs the admin token. */
const isLoopback = (req: Request) => /^(127\.|::1$|::ffff:127\.)/.test(req.socket.remoteAddress ?? '');

/** Unauthenticated probes of the platform itself, and its metrics. */
export function healthRoutes(deps: { stores: Stores; metrics: Metrics; supervisorFile?: string | undefined }): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Ready when Redis answers, a worker has recently reached the target (it writes a heartbeat after
  // pinging it), and, under the launcher, every platform process is up.
  r.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      await deps.stores.platform.ping();
      checks.redis = 'ok';
      const beat = await deps.stores.platform.lastBeat();
      checks.target = beat ? 'ok' : 'down: no worker has reached the target in the last 15 s';
    } catch (e) {
      checks.redis = `down: ${(e as Error).message}`;
      checks.target = 'unknown';
    }
    const children = await readSupervisor(deps.supervisorFile);
    if (children) checks.processes = supervisorCheck(children);
    const ok = Object.values(checks).every((v) => v === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks, ...(children ? { children } : {}) });
  });

  r.get('/metrics', async (req, res) => {
    if (!isLoopback(req)) {
      const secret = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
      const token = secret ? await deps.stores.tokens.lookup(secret) : undefined;
      if (token?.role !== 'admin') throw new DomainError(ErrorCode.unauthorized, '/metrics needs the admin token');
    }
    deps.metrics.setSupervisor(await readSupervisor(deps.supervisorFile));
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return r;
}
