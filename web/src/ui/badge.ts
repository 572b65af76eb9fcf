import { h } from './dom.js';

/** A status as a word with a colour; the word carries the meaning, the colour only helps. */
export const statusBadge = (status: string): HTMLElement =>
  h('span', { class: `badge badge-${status.toLowerCase()}` }, status);
