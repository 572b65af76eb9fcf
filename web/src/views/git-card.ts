import { api, appPath } from '../api/client.js';
import type { GitInfo } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import { loading } from '../ui/states.js';

/**
 * The exact lines to deploy this app with `git push`. The remote and the deploy
 * branch come from `GET /apps/:app/git`; a platform without it gets the documented
 * defaults (`<api origin>/git/<app>.git`, branch main).
 */
export function gitCard(app: string, signal: AbortSignal): HTMLElement {
  const body = h('div', null, loading('the git remote'));
  const status = h('span', { class: 'muted', role: 'status' });
  const copy = h('button', { type: 'button', class: 'btn btn-small', disabled: true }, 'Copy');
  let lines = '';
  copy.addEventListener('click', () => {
    navigator.clipboard.writeText(lines).then(
      () => replace(status, 'Copied.'),
      () => replace(status, 'Copy failed: select the text instead.'),
    );
  });
  const show = (url: string, branch: string) => {
    lines = `git remote add sidecar ${url}\ngit push sidecar HEAD:${branch}`;
    copy.disabled = false;
    replace(
      body,
      h('p', { class: 'hint' }, "From your app's repository:"),
      h('pre', { class: 'code', 'aria-label': 'git commands for this app', tabindex: '0' }, lines),
    );
  };
  api.get<GitInfo>(appPath(app, '/git'), signal).then(
    (g) => show(g.url || defaultUrl(app), g.deployBranches[0] ?? 'main'),
    () => {
      if (!signal.aborted) show(defaultUrl(app), 'main');
    },
  );
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'git-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'git-title' }, 'Deploy with git'), copy, status),
    body,
  );
}

const defaultUrl = (app: string): string => `${location.origin}/git/${app}.git`;
