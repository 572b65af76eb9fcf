import { randomBytes } from 'node:crypto';

/** Sortable, unique ids: a millisecond timestamp then randomness (`d_` for deploys). */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}
