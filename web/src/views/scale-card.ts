import { api, appPath, messageOf } from '../api/client.js';
import type { App, Deploy } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import type { AppContext } from './app-context.js';
import { newestDeploy } from './deploy-log.js';

const MAX_REPLICAS = 10;

/** Scale replicas: a PATCH that rolls out a new release with the new count when the app is deployed. */
export function scaleCard(ctx: AppContext, onRollout: (d: Deploy) => void): HTMLElement {
  const input = h('input', {
    id: 'replicas',
    type: 'number',
    min: '0',
    max: String(MAX_REPLICAS),
    step: '1',
    value: String(ctx.app().replicas),
    inputmode: 'numeric',
  });
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Apply');
  const message = h('p', { class: 'form-message', role: 'status' });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'scale-title' },
    h('h2', { id: 'scale-title' }, 'Scale'),
    h('label', { for: 'replicas' }, 'Replicas'),
    h('div', { class: 'inline-field' }, input, submit),
    h('p', { class: 'hint' }, `0 to ${MAX_REPLICAS}. A change rolls out a new release of the same images.`),
    message,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < 0 || n > MAX_REPLICAS) {
      replace(
        message,
        h('span', { class: 'error-text' }, `Replicas must be a whole number from 0 to ${MAX_REPLICAS}.`),
      );
      return;
    }
    submit.disabled = true;
    void (async () => {
      try {
        const before = await newestDeploy(ctx.name);
        const app = await api.patch<App>(appPath(ctx.name), { replicas: n });
        await ctx.refresh();
        const after = await newestDeploy(ctx.name);
        if (after && after.id !== before?.id) {
          replace(message, `Scaling to ${app.replicas}: rolling out.`);
          onRollout(after);
        } else {
          replace(
            message,
            app.currentRelease === null
              ? `Saved: ${app.replicas} replicas from the first deploy on.`
              : 'Nothing changed.',
          );
        }
      } catch (err) {
        replace(message, h('span', { class: 'error-text' }, `Not scaled: ${messageOf(err)}`));
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}
