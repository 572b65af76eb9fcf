import type { ContainerStatus, Pod, PodEvent } from '../api/types.js';
import { h } from '../ui/dom.js';
import { clock, duration } from '../ui/format.js';

/** The kinds of marker, in legend order; anything else the runner reports is drawn as "other". */
const MARKERS = {
  Created: 'created',
  Started: 'started',
  Ready: 'ready',
  Killing: 'killing',
  Exited: 'terminated',
  BackOff: 'restarted',
  Unhealthy: 'unhealthy',
} as const;
const LEGEND: Array<[string, string]> = [
  ['created', 'Created'],
  ['started', 'Started'],
  ['ready', 'Ready'],
  ['killing', 'Stopping'],
  ['terminated', 'Terminated'],
  ['restarted', 'Restart back-off'],
  ['unhealthy', 'Probe failed'],
];

export type LaneKind = 'init' | 'sidecar' | 'main' | 'pod';
interface Lane {
  name: string;
  kind: LaneKind;
  events: PodEvent[];
}

/** Lanes in the pod's start order: init containers and native sidecars as declared, then the main containers. */
export function lanesOf(pod: Pod): Lane[] {
  const lanes: Lane[] = [
    ...pod.initContainerStatuses.map((c) => ({
      name: c.name,
      kind: (c.sidecar ? 'sidecar' : 'init') as LaneKind,
      events: [],
    })),
    ...pod.containerStatuses.map((c) => ({ name: c.name, kind: 'main' as LaneKind, events: [] })),
  ];
  for (const e of pod.events) {
    let lane = lanes.find((l) => l.name === e.container);
    if (!lane) {
      // Events of something without a status (the pod itself, a removed container) get a lane of their own on top.
      lane = { name: e.container || 'pod', kind: 'pod', events: [] };
      lanes.unshift(lane);
    }
    lane.events.push(e);
  }
  return lanes;
}

/** Running spans of one lane: from each Started to the next Exited (open when still running). */
function spans(events: PodEvent[]): Array<{ from: number; to: number | null }> {
  const out: Array<{ from: number; to: number | null }> = [];
  let open: number | null = null;
  for (const e of events) {
    const t = Date.parse(e.time);
    if (e.reason === 'Started') open = t;
    else if (e.reason === 'Exited' && open !== null) {
      out.push({ from: open, to: t });
      open = null;
    }
  }
  if (open !== null) out.push({ from: open, to: null });
  return out;
}

/**
 * A lane per container on one time axis, with a marker per lifecycle event and
 * a bar while it runs: the picture that shows the logic sidecar starting before
 * the runtime and stopping after it. Positions are percentages so it reads at any width.
 */
export function timeline(pod: Pod): HTMLElement {
  const lanes = lanesOf(pod);
  const times = pod.events.map((e) => Date.parse(e.time));
  if (times.length === 0)
    return h('p', { class: 'state state-empty' }, 'No lifecycle events recorded for this pod yet.');
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const span = Math.max(t1 - t0, 1);
  // 3 % margins keep the first and last markers off the edges.
  const x = (t: number) => 3 + ((t - t0) / span) * 94;

  const laneRows = lanes.map((lane) => {
    const track = h('div', { class: 'track' });
    for (const s of spans(lane.events)) {
      const left = x(s.from);
      const right = s.to === null ? 100 : x(s.to);
      track.append(
        h('div', {
          class: `run-bar${s.to === null ? ' open' : ''}`,
          style: `left:${left}%;width:${Math.max(right - left, 0.5)}%`,
          'aria-hidden': 'true',
        }),
      );
    }
    let lastX = -10;
    let lift = 0;
    for (const e of lane.events) {
      const pos = x(Date.parse(e.time));
      // Events a few ms apart would sit on top of each other: step them up and down.
      lift = pos - lastX < 2.5 ? (lift + 1) % 3 : 0;
      lastX = pos;
      const kind = MARKERS[e.reason as keyof typeof MARKERS] ?? 'other';
      const label = `${lane.name} ${e.reason} at ${clock(e.time)} (+${duration(Date.parse(e.time) - t0)})${e.message ? `: ${e.message}` : ''}`;
      track.append(
        h('span', {
          class: `marker marker-${kind} lift-${lift}`,
          style: `left:${pos}%`,
          role: 'img',
          'aria-label': label,
          title: label,
          'data-reason': e.reason,
          'data-container': lane.name,
        }),
      );
    }
    return h(
      'li',
      { class: `lane lane-${lane.kind}` },
      h(
        'div',
        { class: 'lane-label' },
        h('span', { class: 'lane-name' }, lane.name),
        h('span', { class: `kind kind-${lane.kind}` }, lane.kind),
      ),
      track,
    );
  });

  return h(
    'figure',
    { class: 'timeline' },
    h('figcaption', null, `Lifecycle of ${pod.name}: ${duration(t1 - t0)} from the first to the last event`),
    h('ol', { class: 'lanes', 'aria-label': `Container lanes of ${pod.name}` }, ...laneRows),
    h(
      'div',
      { class: 'axis', 'aria-hidden': 'true' },
      h('span', { style: 'left:3%' }, `${clock(new Date(t0).toISOString())}`),
      h('span', { style: 'left:50%' }, `+${duration(Math.round(span / 2))}`),
      h('span', { style: 'left:97%' }, `+${duration(span)}`),
    ),
    h(
      'ul',
      { class: 'legend', 'aria-label': 'Legend' },
      ...LEGEND.map(([cls, text]) =>
        h('li', null, h('span', { class: `marker marker-${cls} static`, 'aria-hidden': 'true' }), text),
      ),
      h('li', null, h('span', { class: 'run-bar static', 'aria-hidden': 'true' }), 'running'),
    ),
  );
}

export function stateText(c: ContainerStatus): string {
  if (c.state.running) return `Running since ${clock(c.state.running.startedAt)}`;
  if (c.state.terminated) return `Terminated (${c.state.terminated.reason}, exit ${c.state.terminated.exitCode})`;
  if (c.state.waiting) return `Waiting (${c.state.waiting.reason})`;
  return 'Unknown';
}
