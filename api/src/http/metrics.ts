import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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
  return { registry, middleware, deploysCreated };
}
export type Metrics = ReturnType<typeof createMetrics>;
