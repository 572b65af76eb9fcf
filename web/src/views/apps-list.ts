import { api, messageOf } from '../api/client.js';
import type { App, Deploy, List } from '../api/types.js';
import { appHref, navigate } from '../router.js';
import { statusBadge } from '../ui/badge.js';
import { h, replace } from '../ui/dom.js';
import { ago, dateTime } from '../ui/format.js';
import { poll } from '../ui/poll.js';
import { empty, errorState, loading } from '../ui/states.js';

/** API.md "App names": a DNS-1123 label of 1–30 characters. */
const NAME = /^[a-z]([-a-z0-9]{0,28}[a-z0-9])?$/;

export function nameProblem(name: string): string | null {
  if (name === '') return 'Enter a name.';
  if (name.length > 30) return `At most 30 characters (this is ${name.length}).`;
  if (/[A-Z]/.test(name)) return 'Lower-case letters only.';
  if (!/^[a-z]/.test(name)) return 'Start with a letter.';
  if (/[^-a-z0-9]/.test(name)) return 'Only letters, digits and "-".';
  if (name.endsWith('-')) return 'End with a letter or digit.';
  return NAME.test(name) ? null : 'Not a valid app name.';
}

/** The apps: status, current release, URL and last deploy, refreshed every few seconds; and a create form. */
export function appsList(signal: AbortSignal): HTMLElement {
  const body = h('section', { class: 'card', 'aria-label': 'All apps' }, loading('apps'));
  let loaded = false;

  const refresh = async () => {
    try {
      const { items } = await api.get<List<App>>('/apps', signal);
      const lastDeploys = await Promise.all(
        items.map((a) =>
          api.get<List<Deploy>>(`/apps/${encodeURIComponent(a.name)}/deploys`, signal).then(
            (d) => d.items[0] ?? null,
            () => null,
          ),
        ),
      );
      loaded = true;
      replace(
        body,
        items.length === 0
          ? empty('No apps yet. Create one above, then deploy a folder, a .zip or a .tar.gz to it.')
          : appsTable(items, lastDeploys),
      );
    } catch (e) {
      if (signal.aborted) return;
      // Keep showing the last good table on a passing error; say so only when there is nothing to show.
      if (!loaded)
        replace(
          body,
          errorState(`Could not load the apps: ${messageOf(e)}`, () => void refresh()),
        );
    }
  };
  poll(refresh, 5000, signal);

  return h(
    'section',
    { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Apps')),
    createForm(),
    body,
  );
}

function appsTable(apps: App[], last: Array<Deploy | null>): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table' },
      h('caption', { class: 'visually-hidden' }, 'Apps with status, current release, URL and last deploy'),
      h(
        'thead',
        null,
        h('tr', null, ...['App', 'Status', 'Release', 'URL', 'Last deploy'].map((c) => h('th', { scope: 'col' }, c))),
      ),
      h(
        'tbody',
        null,
        ...apps.map((a, i) => {
          const d = last[i];
          return h(
            'tr',
            null,
            h('th', { scope: 'row' }, h('a', { href: appHref(a.name) }, a.name)),
            h('td', null, statusBadge(a.status)),
            h('td', null, a.currentRelease === null ? '—' : `v${a.currentRelease}`),
            h('td', { class: 'url-cell' }, h('a', { href: a.url, target: '_blank', rel: 'noopener' }, a.url)),
            h(
              'td',
              null,
              d
                ? h(
                    'time',
                    { datetime: d.createdAt, title: dateTime(d.createdAt) },
                    `${ago(d.createdAt)} · `,
                    statusBadge(d.status),
                  )
                : 'never',
            ),
          );
        }),
      ),
    ),
  );
}

function createForm(): HTMLElement {
  const input = h('input', {
    id: 'new-app-name',
    name: 'name',
    autocomplete: 'off',
    spellcheck: 'false',
    maxlength: '40',
    'aria-describedby': 'new-app-hint new-app-problem',
  });
  const problem = h('p', { id: 'new-app-problem', class: 'field-problem', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', disabled: true }, 'Create app');
  const check = () => {
    const p = input.value === '' ? null : nameProblem(input.value);
    replace(problem, p ?? '');
    input.setAttribute('aria-invalid', p ? 'true' : 'false');
    submit.disabled = input.value === '' || p !== null;
  };
  input.addEventListener('input', check);
  const form = h(
    'form',
    { class: 'card create-app', 'aria-label': 'Create an app' },
    h('label', { for: 'new-app-name' }, 'App name'),
    h('div', { class: 'inline-field' }, input, submit),
    h(
      'p',
      { id: 'new-app-hint', class: 'hint' },
      'Lower-case letters, digits and "-", starting with a letter; at most 30. It becomes the app\'s host name.',
    ),
    problem,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = input.value;
    const p = nameProblem(name);
    if (p) {
      replace(problem, p);
      return;
    }
    submit.disabled = true;
    api
      .post<App>('/apps', { name })
      .then((app) => navigate(appHref(app.name)))
      .catch((err: unknown) => {
        replace(problem, messageOf(err));
        input.setAttribute('aria-invalid', 'true');
        submit.disabled = false;
        input.focus();
      });
  });
  return form;
}
