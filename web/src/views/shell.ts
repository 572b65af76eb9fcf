import { h } from '../ui/dom.js';

/** The signed-in frame: a header with the brand, the apps link and sign out; the view below. */
export function shell(opts: { content: HTMLElement; onSignOut: () => void; flash: string | null }): HTMLElement {
  return h(
    'div',
    { class: 'shell' },
    h(
      'header',
      { class: 'topbar' },
      h('a', { href: '/', class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◧'), 'Sidecar'),
      h('nav', { 'aria-label': 'Main' }, h('a', { href: '/' }, 'Apps')),
      h('button', { type: 'button', class: 'btn btn-quiet', onclick: opts.onSignOut }, 'Sign out'),
    ),
    h(
      'main',
      { id: 'main', tabindex: '-1' },
      opts.flash ? h('p', { class: 'flash', role: 'status' }, opts.flash) : null,
      opts.content,
    ),
  );
}
