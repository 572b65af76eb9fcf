import { z } from 'zod';
import { METRICS_RETENTION_MINUTES } from '../traffic-metrics.js';

const MINUTES_HINT = `a whole number from 1 to ${METRICS_RETENTION_MINUTES}`;
export const AppMetricsQuery = z.object({
  minutes: z.coerce
    .number({ error: MINUTES_HINT })
    .int({ error: MINUTES_HINT })
    .min(1, { error: MINUTES_HINT })
    .max(METRICS_RETENTION_MINUTES, { error: MINUTES_HINT })
    .default(60)
    .meta({ description: 'How far back, in minutes' }),
});
export type AppMetricsQuery = z.infer<typeof AppMetricsQuery>;

const ms = z.number().nullable();
/** `GET /apps/:app/metrics`: the app's traffic through the router (core/src/traffic-metrics.ts summarize). */
export const AppMetricsView = z
  .object({
    app: z.string(),
    bucketSeconds: z.number().int(),
    requests: z.object({
      total: z.number().int(),
      '2xx': z.number().int(),
      '3xx': z.number().int(),
      '4xx': z.number().int(),
      '5xx': z.number().int(),
    }),
    latencyMs: z
      .object({ p50: ms, p95: ms, p99: ms })
      .meta({ description: 'Upper bounds of the latency buckets the percentiles fall in; null without requests' }),
    bytes: z.object({ in: z.number().int(), out: z.number().int() }),
    series: z
      .array(
        z.object({
          time: z.string(),
          requests: z.number().int(),
          errors: z.number().int().meta({ description: '5xx answers' }),
          p50Ms: ms,
          p95Ms: ms,
        }),
      )
      .meta({ description: 'One point per 10 s, oldest first' }),
  })
  .meta({ id: 'AppMetrics' });
export type AppMetricsView = z.infer<typeof AppMetricsView>;
