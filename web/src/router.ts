/** History-API routing: the API answers every non-/api path with index.html, so reloads work. */
export type Tab = 'deploy' | 'releases' | 'config' | 'pods' | 'logs' | 'metrics' | 'jobs';
export const TABS: ReadonlyArray<{ id: Tab; label: string }> = [
  { id: 'deploy', label: 'Deploy' },
  { id: 'releases', label: 'Releases' },
  { id: 'config', label: 'Config' },
  { id: 'pods', label: 'Pods' },
  { id: 'logs', label: 'Logs' },
  { id: 'metrics', label: 'Metrics' },
  { id: 'jobs', label: 'Jobs' },
];

export type Route =
  { view: 'sign-in' } | { view: 'apps' } | { view: 'app'; app: string; tab: Tab } | { view: 'not-found'; path: string };

export function parse(path: string): Route {
  if (path === '/sign-in') return { view: 'sign-in' };
  if (path === '/' || path === '/apps' || path === '') return { view: 'apps' };
  const m = /^\/apps\/([^/]+)(?:\/([a-z]+))?\/?$/.exec(path);
  if (m) {
    const tab = (m[2] ?? 'deploy') as Tab;
    if (TABS.some((t) => t.id === tab)) return { view: 'app', app: decodeURIComponent(m[1]!), tab };
  }
  return { view: 'not-found', path };
}

export const appHref = (app: string, tab: Tab = 'deploy'): string =>
  `/apps/${encodeURIComponent(app)}${tab === 'deploy' ? '' : `/${tab}`}`;

type Listener = () => void;
let listener: Listener = () => undefined;
/** A message shown once on the next view (e.g. why the user was signed out). */
let flash: string | null = null;

export function navigate(path: string, opts: { replace?: boolean; flash?: string } = {}): void {
  flash = opts.flash ?? null;
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  listener();
}

export function takeFlash(): string | null {
  const f = flash;
  flash = null;
  return f;
}

export function startRouter(onChange: Listener): void {
  listener = onChange;
  window.addEventListener('popstate', () => listener());
  // Same-origin links navigate in place; modified clicks (new tab etc.) keep the browser's behaviour.
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.origin !== location.origin || !a.pathname.startsWith('/') || a.hasAttribute('download'))
      return;
    if (a.pathname.startsWith('/api/') || a.pathname.startsWith('/git/')) return;
    e.preventDefault();
    if (a.pathname !== location.pathname) navigate(a.pathname);
  });
  listener();
}
