import { Router } from 'express';
import { METRICS_BUCKET_SECONDS, summarize } from '@sidecar/core';
import { AppMetricsQuery, type AppMetricsView, parseInput } from '@sidecar/core/wire';
import type { Stores } from '@sidecar/store';
import { appParam } from './params.js';

/**
 * GET /apps/:app/metrics?minutes=60 — the app's traffic through the router(s): requests by status
 * class, latency percentiles, bytes, and one point per 10 s (requests, 5xx errors, p50/p95) over the
 * last `minutes` (1–1440). The routers write the counts to Redis every 2 s (router/src/metrics.ts).
 */
export function metricsRoutes(deps: { stores: Stores }): Router {
  const r = Router();
  r.get('/apps/:app/metrics', async (req, res) => {
    const app = appParam(req);
    await deps.stores.apps.get(app);
    const { minutes } = parseInput(AppMetricsQuery, req.query);
    // Up to the bucket in progress, included: the last point grows until its 10 s are over.
    const now = Date.now() / 1000;
    const toSec = (Math.floor(now / METRICS_BUCKET_SECONDS) + 1) * METRICS_BUCKET_SECONDS;
    const fromSec = toSec - minutes * 60;
    const buckets = await deps.stores.appTraffic.range(app, fromSec, toSec);
    const view: AppMetricsView = { app, bucketSeconds: METRICS_BUCKET_SECONDS, ...summarize(buckets, fromSec, toSec) };
    res.json(view);
  });
  return r;
}
