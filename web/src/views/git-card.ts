import { api, appPath } from '../api/client.js';
import type { GitInfo } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import { loading } from '../ui/states.js';

/**
 * The exact lines to deploy this app with `git push`, through the CLI's `git-remote`: it makes a
 * deployer token for this app only and hands it to git through a credential helper, so no token is
 * ever in the remote's URL or in `.git/config` (docs/git-push.md). The deploy branch comes from
 * `GET /apps/:app/git`; a platform without it gets the documented default (main).
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
  const show = (branch: string) => {
    lines = [
      `npx sidecar login --api ${location.origin}`,
      `npx sidecar git-remote -a ${app}`,
      `git push sidecar HEAD:${branch}`,
    ].join('\n');
    copy.disabled = false;
    replace(
      body,
      h('p', { class: 'hint' }, "From your app's repository:"),
      h('pre', { class: 'code', 'aria-label': 'git commands for this app', tabindex: '0' }, lines),
      h(
        'p',
        { class: 'hint' },
        'git-remote makes a deployer token for this app only and gives it to git through a credential helper: ' +
          'it is never in the remote URL or in .git/config. Do not put your own token in a git URL.',
      ),
    );
  };
  api.get<GitInfo>(appPath(app, '/git'), signal).then(
    (g) => show(g.deployBranches[0] ?? 'main'),
    () => {
      if (!signal.aborted) show('main');
    },
  );
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'git-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'git-title' }, 'Deploy with git'), copy, status),
    body,
  );
}
