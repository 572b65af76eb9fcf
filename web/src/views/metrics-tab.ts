import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, appPath, messageOf } from '../api/client.js';
import type { AppMetrics } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import { poll } from '../ui/poll.js';
import { errorState, loading } from '../ui/states.js';
import type { AppContext } from './app-context.js';

const MINUTES = 60;
const REFRESH_MS = 5000;

type Series = AppMetrics['series'];

/** What each chart plots from the API's points: x is the time in seconds, as uPlot wants. */
const CHARTS: ReadonlyArray<{
  title: string;
  unit: string;
  lines: ReadonlyArray<{ label: string; color: string; value: (p: Series[number], bucket: number) => number | null }>;
}> = [
  {
    title: 'Requests per second',
    unit: 'req/s',
    lines: [{ label: 'requests/s', color: '#2563eb', value: (p, bucket) => p.requests / bucket }],
  },
  {
    title: 'Latency',
    unit: 'ms',
    lines: [
      { label: 'p50', color: '#059669', value: (p) => p.p50Ms },
      { label: 'p95', color: '#d97706', value: (p) => p.p95Ms },
    ],
  },
  {
    title: 'Error rate (5xx)',
    unit: '%',
    lines: [
      { label: '5xx %', color: '#dc2626', value: (p) => (p.requests > 0 ? (100 * p.errors) / p.requests : null) },
    ],
  },
];

const fmt = (v: number | null, unit: string) => (v === null ? '–' : `${Math.round(v * 10) / 10} ${unit}`);

/**
 * The app's traffic through the router over the last hour (`GET /apps/:app/metrics`), refreshed
 * every 5 s: totals by status class, latency percentiles, and charts (uPlot) of requests/s,
 * p50/p95 latency and the 5xx rate, one point per 10 s.
 */
export function metricsTab(ctx: AppContext): HTMLElement {
  const summary = h('dl', { class: 'metrics-summary', 'aria-label': 'Traffic in the last hour' });
  const charts = h('div', { class: 'metrics-charts' });
  const body = h('div', null, loading('the metrics'));
  const plots: uPlot[] = [];
  let shown = false;

  const render = (m: AppMetrics) => {
    const r = m.requests;
    replace(
      summary,
      ...(
        [
          ['Requests', String(r.total)],
          ['2xx / 3xx', `${r['2xx']} / ${r['3xx']}`],
          ['4xx / 5xx', `${r['4xx']} / ${r['5xx']}`],
          [
            'p50 / p95 / p99',
            `${fmt(m.latencyMs.p50, 'ms')} / ${fmt(m.latencyMs.p95, 'ms')} / ${fmt(m.latencyMs.p99, 'ms')}`,
          ],
        ] as const
      ).flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
    );
    const xs = m.series.map((p) => Date.parse(p.time) / 1000);
    CHARTS.forEach((chart, i) => {
      const data: uPlot.AlignedData = [xs, ...chart.lines.map((l) => m.series.map((p) => l.value(p, m.bucketSeconds)))];
      if (plots[i]) return plots[i].setData(data);
      const holder = h('figure', { class: 'metrics-chart', 'aria-label': chart.title });
      charts.append(holder);
      plots[i] = new uPlot(
        {
          title: chart.title,
          width: Math.max(280, Math.min(720, charts.clientWidth || 720)),
          height: 180,
          // Points too: a lone bucket with traffic between empty ones has no line to draw.
          series: [
            {},
            ...chart.lines.map((l) => ({
              label: l.label,
              stroke: l.color,
              width: 2,
              spanGaps: false,
              points: { show: true, size: 4, fill: l.color },
            })),
          ],
          axes: [{}, { label: chart.unit, size: 60 }],
          scales: { y: { range: (_u, min, max) => [0, Math.max(max ?? 0, min ?? 0, 1)] } },
        },
        data,
        holder,
      );
    });
  };

  poll(
    async () => {
      try {
        const m = await api.get<AppMetrics>(`${appPath(ctx.name, '/metrics')}?minutes=${MINUTES}`, ctx.signal);
        if (!shown) {
          replace(body, summary, charts);
          shown = true;
        }
        render(m);
      } catch (e) {
        if (!ctx.signal.aborted && !shown) replace(body, errorState(`Could not load the metrics: ${messageOf(e)}`));
      }
    },
    REFRESH_MS,
    ctx.signal,
  );
  ctx.signal.addEventListener('abort', () => plots.forEach((p) => p.destroy()), { once: true });
  return h('section', { 'aria-label': 'Metrics' }, h('h2', null, `Traffic, last ${MINUTES} minutes`), body);
}
