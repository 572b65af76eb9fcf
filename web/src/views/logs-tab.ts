import { api, ApiError, appPath, authHeaders, handleUnauthorized, messageOf, problemOf } from '../api/client.js';
import type { List, Pod } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import { errorState } from '../ui/states.js';
import type { AppContext } from './app-context.js';

const TAIL = 500;

/**
 * The app's runtime and sidecar logs (API.md `GET /apps/:app/logs`), following
 * live, filtered by container on the server (`?container=`). When the platform
 * does not serve that endpoint the view says so rather than show anything else.
 */
export function logsTab(ctx: AppContext): HTMLElement {
  const select = h('select', { id: 'log-container' }, h('option', { value: '' }, 'All containers'));
  const followBox = h('input', { id: 'log-follow', type: 'checkbox', checked: true });
  const out = h('pre', { class: 'log tall', role: 'log', 'aria-label': 'App logs', tabindex: '0' });
  const status = h('p', { class: 'form-message', role: 'status' });
  const body = h('div', null, out);
  let stream: AbortController | null = null;

  void api.get<List<Pod>>(appPath(ctx.name, '/pods'), ctx.signal).then(
    (pods) => {
      const names = new Set<string>();
      for (const p of pods.items)
        for (const c of [...p.initContainerStatuses, ...p.containerStatuses]) names.add(c.name);
      // The router's access log for the app (one JSON line per request), docs/router.md.
      names.add('router');
      for (const n of names) select.append(h('option', { value: n }, n));
    },
    () => undefined,
  );

  const start = () => {
    stream?.abort();
    stream = new AbortController();
    const signal = AbortSignal.any([ctx.signal, stream.signal]);
    out.textContent = '';
    replace(body, out);
    const q = new URLSearchParams({ tail: String(TAIL) });
    if (select.value) q.set('container', select.value);
    if (followBox.checked) q.set('follow', 'true');
    replace(status, followBox.checked ? 'Following…' : 'Loading…');
    void read(`/api/v1${appPath(ctx.name, `/logs?${q}`)}`, out, signal).then(
      () => {
        if (!signal.aborted)
          replace(status, followBox.checked ? 'The log stream ended.' : `Showing the last ${TAIL} lines.`);
      },
      (e: unknown) => {
        if (signal.aborted) return;
        replace(status);
        if (e instanceof ApiError && e.status === 404 && e.code === 'not_found') {
          replace(
            body,
            errorState(
              'This platform does not serve runtime logs yet (GET /api/v1/apps/:app/logs is missing). Deploy logs are on the Deploy tab; job output on the Jobs tab.',
            ),
          );
        } else {
          replace(body, errorState(`Could not read the logs: ${messageOf(e)}`, start));
        }
      },
    );
  };
  select.addEventListener('change', start);
  followBox.addEventListener('change', start);
  start();

  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'logs-title' },
    h('h2', { id: 'logs-title' }, 'Logs'),
    h(
      'div',
      { class: 'toolbar' },
      h('label', { for: 'log-container' }, 'Container'),
      select,
      h('label', { class: 'check' }, followBox, ' Follow'),
    ),
    status,
    body,
  );
}

async function read(url: string, out: HTMLElement, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { headers: authHeaders({ accept: 'text/plain' }), signal });
  if (!res.ok) {
    const err = await problemOf(res);
    handleUnauthorized(err);
    throw err;
  }
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
    out.append(value);
    if (stick) out.scrollTop = out.scrollHeight;
  }
}
