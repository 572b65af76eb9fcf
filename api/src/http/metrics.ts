import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SupervisedChild } from './supervisor.js';

/** Prometheus metrics for the API process; one registry per app instance (tests create several). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'sidecar_http_requests_total',
    help: 'API requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sidecar_http_request_duration_seconds',
    help: 'API request duration',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const deploysCreated = new Counter({
    name: 'sidecar_deploys_created_total',
    help: 'Deploys accepted',
    registers: [registry],
  });

  // The launcher's children, as of the last scrape (supervisor.json): restarts and whether each is up.
  const childRestarts = new Gauge({
    name: 'sidecar_process_restarts',
    help: 'Times the launcher restarted a platform process since it started',
    labelNames: ['process'] as const,
    registers: [registry],
  });
  const childUp = new Gauge({
    name: 'sidecar_process_up',
    help: 'Whether a platform process runs (1) or not (0), as the launcher sees it',
    labelNames: ['process'] as const,
    registers: [registry],
  });
  const setSupervisor = (children: SupervisedChild[] | undefined) => {
    for (const c of children ?? []) {
      childRestarts.set({ process: c.name }, c.restarts);
      childUp.set({ process: c.name }, c.status === 'running' ? 1 : 0);
    }
  };

  const middleware = (req: Request, res: Response, next: NextFunction) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      // The route pattern, not the URL: bounded label values.
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const labels = { method: req.method, route: `${req.baseUrl}${route}` };
      end(labels);
      requests.inc({ ...labels, status: String(res.statusCode) });
    });
    next();
  };
  return { registry, middleware, deploysCreated, setSupervisor };
}
export type Metrics = ReturnType<typeof createMetrics>;
