import { api, appPath, messageOf } from '../api/client.js';
import type { ContainerStatus, List, Pod } from '../api/types.js';
import { statusBadge } from '../ui/badge.js';
import { h, replace } from '../ui/dom.js';
import { bytes, clock, dateTime } from '../ui/format.js';
import { poll } from '../ui/poll.js';
import { empty, errorState, loading } from '../ui/states.js';
import type { AppContext } from './app-context.js';
import { stateText, timeline } from './timeline.js';

/** Each pod: phase and readiness, its containers (kind, state, ready, restarts) and the lifecycle timeline. */
export function podsTab(ctx: AppContext): HTMLElement {
  const body = h('div', null, loading('pods'));
  let loaded = false;
  let lastJson = '';
  // <details> the user opened stay open across refreshes.
  const open = new Set<string>();
  const refresh = async () => {
    try {
      const { items } = await api.get<List<Pod>>(appPath(ctx.name, '/pods'), ctx.signal);
      loaded = true;
      const json = JSON.stringify(items);
      if (json === lastJson) return; // unchanged: keep the DOM (and the reader's place) as it is
      lastJson = json;
      replace(
        body,
        items.length === 0
          ? empty(
              ctx.app().currentRelease === null
                ? 'No pods: the app has not been deployed yet.'
                : 'No pods are running (scaled to 0, or stopped).',
            )
          : items.map((p) => podCard(p, open)),
      );
    } catch (e) {
      if (!ctx.signal.aborted && !loaded)
        replace(
          body,
          errorState(`Could not load the pods: ${messageOf(e)}`, () => void refresh()),
        );
    }
  };
  poll(refresh, 3000, ctx.signal);
  return h('div', { class: 'pods' }, body);
}

function podCard(pod: Pod, open: Set<string>): HTMLElement {
  const events = h(
    'details',
    { open: open.has(pod.name) ? true : null },
    h('summary', null, `Events (${pod.events.length})`),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table small' },
        h('caption', { class: 'visually-hidden' }, `Lifecycle events of ${pod.name}, in order`),
        h(
          'thead',
          null,
          h('tr', null, ...['Time', 'Container', 'Reason', 'Message'].map((c) => h('th', { scope: 'col' }, c))),
        ),
        h(
          'tbody',
          null,
          ...pod.events.map((e) =>
            h(
              'tr',
              null,
              h('td', null, h('time', { datetime: e.time }, clock(e.time))),
              h('td', null, e.container),
              h('td', null, e.reason),
              h('td', null, e.message),
            ),
          ),
        ),
      ),
    ),
  );
  events.addEventListener('toggle', () => {
    if (events.open) open.add(pod.name);
    else open.delete(pod.name);
  });
  return h(
    'section',
    { class: 'card pod', 'aria-label': `Pod ${pod.name}` },
    h(
      'div',
      { class: 'card-head' },
      h('h2', null, h('code', null, pod.name)),
      statusBadge(pod.phase),
      h('span', { class: pod.ready ? 'ok-text' : 'muted' }, pod.ready ? 'Ready' : 'Not ready'),
      pod.release !== null ? h('span', { class: 'muted' }, `release v${pod.release}`) : null,
    ),
    pod.suspended ? suspension(pod.suspended) : null,
    h('div', { class: 'pod-grid' }, containersTable(pod), timeline(pod)),
    events,
  );
}

/** A frozen pod: why (kept warm for a rollback, or its app is idle), since when, and what it keeps. */
function suspension(s: NonNullable<Pod['suspended']>): HTMLElement {
  const why =
    s.reason === 'warm'
      ? `Kept warm for an instant rollback${s.until ? ` until ${dateTime(s.until)}` : ''}`
      : 'The app is idle (scale to zero): the next request wakes it';
  return h(
    'p',
    { class: 'pod-suspended' },
    h('span', { class: 'badge badge-suspended' }, 'suspended'),
    ` ${why}. Frozen since ${clock(s.since)}, no CPU; `,
    s.memoryBytes === null ? 'its memory is being measured.' : `keeps ${bytes(s.memoryBytes)} of memory.`,
  );
}

function containersTable(pod: Pod): HTMLElement {
  const rows: Array<[ContainerStatus, string]> = [
    ...pod.initContainerStatuses.map((c): [ContainerStatus, string] => [c, c.sidecar ? 'sidecar' : 'init']),
    ...pod.containerStatuses.map((c): [ContainerStatus, string] => [c, 'main']),
  ];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table small' },
      h('caption', { class: 'visually-hidden' }, `Containers of ${pod.name}`),
      h(
        'thead',
        null,
        h('tr', null, ...['Container', 'Kind', 'State', 'Ready', 'Restarts'].map((c) => h('th', { scope: 'col' }, c))),
      ),
      h(
        'tbody',
        null,
        ...rows.map(([c, kind]) =>
          h(
            'tr',
            null,
            h('th', { scope: 'row' }, h('span', { title: c.image }, c.name)),
            h('td', null, h('span', { class: `kind kind-${kind}` }, kind)),
            h('td', null, stateText(c)),
            h('td', null, c.ready ? 'yes' : 'no'),
            h('td', null, String(c.restartCount)),
          ),
        ),
      ),
    ),
  );
}
