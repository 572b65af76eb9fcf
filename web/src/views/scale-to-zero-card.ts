import { api, appPath, messageOf } from '../api/client.js';
import type { App } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import type { AppContext } from './app-context.js';

const MIN_IDLE = 1;
const MAX_IDLE = 7 * 24 * 3600;

/**
 * Scale to zero (docs/scale-to-zero.md): on, the app's pods are suspended after the idle time and the
 * next request wakes them. Saved at once, no new release.
 */
export function scaleToZeroCard(ctx: AppContext): HTMLElement {
  const current = ctx.app().scaleToZero;
  const enabled = h('input', { id: 'stz-enabled', type: 'checkbox', checked: current.enabled ? true : null });
  const idle = h('input', {
    id: 'stz-idle',
    type: 'number',
    min: String(MIN_IDLE),
    max: String(MAX_IDLE),
    step: '1',
    value: String(current.idleSeconds),
    inputmode: 'numeric',
  });
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Save');
  const message = h('p', { class: 'form-message', role: 'status' });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'stz-title' },
    h('h2', { id: 'stz-title' }, 'Scale to zero'),
    h('label', { class: 'check' }, enabled, ' Suspend the app when idle'),
    h('label', { for: 'stz-idle' }, 'Idle after (seconds without a request)'),
    h('div', { class: 'inline-field' }, idle, submit),
    h(
      'p',
      { class: 'hint' },
      'Suspended pods use no CPU and keep their memory; the router holds the next request while the app wakes.',
    ),
    message,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const seconds = Number(idle.value);
    if (!Number.isInteger(seconds) || seconds < MIN_IDLE || seconds > MAX_IDLE) {
      replace(
        message,
        h(
          'span',
          { class: 'error-text' },
          `The idle time is a whole number of seconds from ${MIN_IDLE} to ${MAX_IDLE}.`,
        ),
      );
      return;
    }
    submit.disabled = true;
    void (async () => {
      try {
        const app = await api.patch<App>(appPath(ctx.name), {
          scaleToZero: { enabled: enabled.checked, idleSeconds: seconds },
        });
        await ctx.refresh();
        replace(
          message,
          app.scaleToZero.enabled ? `Saved: suspended after ${app.scaleToZero.idleSeconds} s idle.` : 'Saved: off.',
        );
      } catch (err) {
        replace(message, h('span', { class: 'error-text' }, `Not saved: ${messageOf(err)}`));
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}
