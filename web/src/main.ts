import './styles.css';
import { setUnauthorizedHandler } from './api/client.js';
import { session } from './api/session.js';
import { navigate, parse, startRouter, takeFlash } from './router.js';
import { h, replace } from './ui/dom.js';
import { appPage } from './views/app-page.js';
import { appsList } from './views/apps-list.js';
import { shell } from './views/shell.js';
import { signIn } from './views/sign-in.js';

const root = document.getElementById('root')!;
/** Aborted whenever the view changes: stops the old view's polling and streams. */
let current = new AbortController();

setUnauthorizedHandler((message) => {
  if (!session.token()) return; // several requests fail at once; the first one signs out
  session.signOut();
  navigate(signInHref(location.pathname), { replace: true, flash: message });
});

/** Sign-in remembers where the user was, to return there. */
const signInHref = (from: string): string =>
  from === '/' || from === '/sign-in' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(from)}`;

/** Only a same-origin path may be a return target (never `//other.host`). */
function nextPath(): string {
  const next = new URLSearchParams(location.search).get('next') ?? '/';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

function render(): void {
  current.abort();
  current = new AbortController();
  const signal = current.signal;
  const route = parse(location.pathname);
  const flash = takeFlash();

  if (route.view === 'sign-in' || !session.token()) {
    if (route.view !== 'sign-in') history.replaceState(null, '', signInHref(location.pathname));
    document.title = 'Sign in · Sidecar';
    replace(root, signIn({ message: flash, next: nextPath() }));
    root.querySelector<HTMLElement>('input')?.focus();
    return;
  }
  const signOut = () => {
    session.signOut();
    navigate('/sign-in', { flash: 'You are signed out.' });
  };
  let content: HTMLElement;
  if (route.view === 'apps') {
    document.title = 'Apps · Sidecar';
    content = appsList(signal);
  } else if (route.view === 'app') {
    document.title = `${route.app} · Sidecar`;
    content = appPage(route.app, route.tab, signal);
  } else {
    document.title = 'Not found · Sidecar';
    content = h(
      'section',
      null,
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', null, `Nothing lives at ${route.path}. `, h('a', { href: '/' }, 'Back to the apps')),
    );
  }
  replace(root, shell({ content, onSignOut: signOut, flash }));
  // Move focus to the new view's heading so keyboard and screen-reader users land on it.
  root.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
}

startRouter(render);
