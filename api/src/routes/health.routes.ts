import { Router } from 'express';
import type { Stores } from '@sidecar/store';
import type { Metrics } from '../http/metrics.js';

/** Unauthenticated probes of the platform itself. */
export function healthRoutes(deps: { stores: Stores; metrics: Metrics }): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Ready when Redis answers and a worker has recently reached the target (it writes a heartbeat after pinging it).
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
    const ok = Object.values(checks).every((v) => v === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });

  r.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return r;
}
