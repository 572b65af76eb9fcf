import { api, ApiError, appPath, messageOf } from '../api/client.js';
import type { App } from '../api/types.js';
import { appHref, type Tab, TABS } from '../router.js';
import { statusBadge } from '../ui/badge.js';
import { h, replace } from '../ui/dom.js';
import { poll } from '../ui/poll.js';
import { errorState, loading } from '../ui/states.js';
import type { AppContext } from './app-context.js';
import { configTab } from './config-tab.js';
import { deployTab } from './deploy-tab.js';
import { jobsTab } from './jobs-tab.js';
import { logsTab } from './logs-tab.js';
import { metricsTab } from './metrics-tab.js';
import { podsTab } from './pods-tab.js';
import { releasesTab } from './releases-tab.js';

const TAB_VIEWS: Record<Tab, (ctx: AppContext) => HTMLElement> = {
  deploy: deployTab,
  releases: releasesTab,
  config: configTab,
  pods: podsTab,
  logs: logsTab,
  metrics: metricsTab,
  jobs: jobsTab,
};

/** One app: a header that stays current (status, release, URL) and the tabs. */
export function appPage(name: string, tab: Tab, signal: AbortSignal): HTMLElement {
  const heading = h('h1', { tabindex: '-1' }, name);
  const facts = h('div', { class: 'app-facts' });
  const body = h('div', { class: 'tab-body' }, loading('the app'));
  let current: App | null = null;

  const showFacts = (a: App) =>
    replace(
      facts,
      statusBadge(a.status),
      h('span', null, a.currentRelease === null ? 'not deployed yet' : `release v${a.currentRelease}`),
      h('span', null, `${a.replicas} ${a.replicas === 1 ? 'replica' : 'replicas'}`),
      h('a', { href: a.url, target: '_blank', rel: 'noopener', class: 'app-url' }, a.url),
    );

  const refresh = async (): Promise<App> => {
    const a = await api.get<App>(appPath(name), signal);
    current = a;
    showFacts(a);
    return a;
  };

  const ctx: AppContext = { name, app: () => current!, refresh, signal };
  const load = () => {
    replace(body, loading('the app'));
    refresh().then(
      () => {
        replace(body, TAB_VIEWS[tab](ctx));
        poll(
          async () => {
            await refresh().catch(() => undefined);
          },
          4000,
          signal,
        );
      },
      (e: unknown) => {
        if (signal.aborted) return;
        if (e instanceof ApiError && e.status === 404) {
          replace(
            body,
            h(
              'div',
              { class: 'state state-error', role: 'alert' },
              h('p', null, `There is no app named "${name}" (or this token may not see it). `),
              h('a', { href: '/' }, 'Back to the apps'),
            ),
          );
        } else {
          replace(body, errorState(`Could not load the app: ${messageOf(e)}`, load));
        }
      },
    );
  };
  load();

  return h(
    'section',
    { class: 'page' },
    h(
      'nav',
      { 'aria-label': 'Breadcrumb', class: 'crumbs' },
      h('a', { href: '/' }, 'Apps'),
      h('span', { 'aria-hidden': 'true' }, ' / '),
      name,
    ),
    h('div', { class: 'page-head' }, heading, facts),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'App sections' },
      ...TABS.map((t) =>
        h('a', { href: appHref(name, t.id), class: 'tab', 'aria-current': t.id === tab ? 'page' : null }, t.label),
      ),
    ),
    body,
  );
}
