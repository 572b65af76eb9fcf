import { h } from './dom.js';

/** The loading, empty and error states every view uses, so they look and announce alike. */
export const loading = (what: string): HTMLElement =>
  h(
    'p',
    { class: 'state state-loading', role: 'status' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    `Loading ${what}…`,
  );

export const empty = (message: string, ...extra: Array<Node | string>): HTMLElement =>
  h('div', { class: 'state state-empty' }, h('p', null, message), ...extra);

export function errorState(message: string, retry?: () => void): HTMLElement {
  return h(
    'div',
    { class: 'state state-error', role: 'alert' },
    h('p', null, message),
    retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again') : null,
  );
}
