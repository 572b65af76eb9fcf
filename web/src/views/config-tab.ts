import { api, appPath, messageOf } from '../api/client.js';
import type { App } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import type { AppContext } from './app-context.js';
import { deployLog, newestDeploy } from './deploy-log.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['PORT', 'SIDECAR_APP', 'SIDECAR_RELEASE']);

/** One variable being edited. `stored`: the platform has it; a secret's stored value is never known here. */
interface Row {
  key: string;
  value: string;
  original: string | undefined;
  stored: boolean;
  removed: boolean;
}
type Kind = 'env' | 'secrets';

/**
 * Environment variables and secrets. Secret values are write-only: the API
 * returns only their names, and the form sends a secret only when a new value is typed.
 * Saving is one PATCH; when the app is deployed it rolls out a new release, followed here.
 */
export function configTab(ctx: AppContext): HTMLElement {
  const state: Record<Kind, Row[]> = { env: [], secrets: [] };
  const load = (a: App) => {
    state.env = Object.entries(a.env).map(([key, value]) => ({
      key,
      value,
      original: value,
      stored: true,
      removed: false,
    }));
    state.secrets = Object.keys(a.secrets).map((key) => ({
      key,
      value: '',
      original: undefined,
      stored: true,
      removed: false,
    }));
  };
  load(ctx.app());

  const envSection = h('div');
  const secretSection = h('div');
  const message = h('p', { class: 'form-message', role: 'status' });
  const logSlot = h('div', { class: 'log-slot' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save changes');

  const render = () => {
    replace(envSection, varsEditor('env', state.env, render, message));
    replace(secretSection, varsEditor('secrets', state.secrets, render, message));
  };
  render();

  const form = h(
    'form',
    { class: 'config-form', 'aria-label': 'Configuration' },
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'env-title' },
      h('h2', { id: 'env-title' }, 'Environment variables'),
      envSection,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'secrets-title' },
      h('h2', { id: 'secrets-title' }, 'Secrets'),
      h(
        'p',
        { class: 'hint' },
        'Values are stored on the platform and never shown again. Type a new value to replace one.',
      ),
      secretSection,
    ),
    h('div', { class: 'button-row' }, save),
    message,
  );

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const patch = { env: diff(state.env, false), secrets: diff(state.secrets, true) };
    const body: Record<string, unknown> = {};
    if (Object.keys(patch.env).length) body.env = patch.env;
    if (Object.keys(patch.secrets).length) body.secrets = patch.secrets;
    if (Object.keys(body).length === 0) {
      replace(message, 'Nothing to save.');
      return;
    }
    save.disabled = true;
    replace(message, 'Saving…');
    void (async () => {
      try {
        const before = await newestDeploy(ctx.name);
        const app = await api.patch<App>(appPath(ctx.name), body);
        await ctx.refresh().catch(() => undefined);
        load(app);
        render();
        const after = await newestDeploy(ctx.name);
        if (after && after.id !== before?.id) {
          replace(message, 'Saved. Rolling out a new release with this configuration.');
          replace(
            logSlot,
            deployLog({
              app: ctx.name,
              deployId: after.id,
              title: 'Config rollout',
              signal: ctx.signal,
              onEnd: () => void ctx.refresh().catch(() => undefined),
            }),
          );
        } else {
          replace(message, app.currentRelease === null ? 'Saved. It applies from the first deploy.' : 'Saved.');
        }
      } catch (err) {
        replace(message, h('span', { class: 'error-text' }, `Not saved: ${messageOf(err)}`));
      } finally {
        save.disabled = false;
      }
    })();
  });

  return h('div', null, form, logSlot);
}

/** The PATCH map: changed and new values, removed keys as null. A stored secret is sent only when a new value was typed. */
function diff(rows: Row[], secret: boolean): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const r of rows) {
    if (r.removed) {
      if (r.stored) out[r.key] = null;
    } else if (!r.stored || (secret ? r.value !== '' : r.value !== r.original)) {
      out[r.key] = r.value;
    }
  }
  return out;
}

function varsEditor(kind: Kind, rows: Row[], rerender: () => void, message: HTMLElement): HTMLElement {
  const secret = kind === 'secrets';
  const noun = secret ? 'secret' : 'variable';
  const visible = rows.filter((r) => !r.removed);
  const table =
    visible.length === 0
      ? h('p', { class: 'state state-empty' }, secret ? 'No secrets.' : 'No environment variables.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table vars' },
            h('caption', { class: 'visually-hidden' }, secret ? 'Secrets' : 'Environment variables'),
            h(
              'thead',
              null,
              h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'), h('td')),
            ),
            h(
              'tbody',
              null,
              ...visible.map((r) => {
                const input = h('input', {
                  type: secret ? 'password' : 'text',
                  value: r.value,
                  autocomplete: 'off',
                  spellcheck: 'false',
                  'aria-label': secret ? `New value for secret ${r.key}` : `Value of ${r.key}`,
                  placeholder: secret && r.stored ? '•••••• (unchanged)' : null,
                });
                input.addEventListener('input', () => {
                  r.value = input.value;
                });
                return h(
                  'tr',
                  null,
                  h('th', { scope: 'row' }, h('code', null, r.key)),
                  h('td', null, input),
                  h(
                    'td',
                    null,
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'btn btn-small',
                        'aria-label': `Remove ${noun} ${r.key}`,
                        onclick: () => {
                          r.removed = true;
                          rerender();
                        },
                      },
                      'Remove',
                    ),
                  ),
                );
              }),
            ),
          ),
        );

  const keyInput = h('input', {
    'aria-label': `New ${noun} name`,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'NAME',
  });
  const valueInput = h('input', {
    type: secret ? 'password' : 'text',
    'aria-label': `New ${noun} value`,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'value',
  });
  const add = () => {
    const key = keyInput.value.trim();
    const problem = !ENV_NAME.test(key)
      ? 'Names are letters, digits and _, not starting with a digit.'
      : RESERVED.has(key)
        ? `${key} is set by the platform.`
        : rows.some((r) => r.key === key && !r.removed)
          ? `${key} is already listed; edit its value instead.`
          : null;
    if (problem) {
      replace(message, h('span', { class: 'error-text' }, problem));
      keyInput.focus();
      return;
    }
    const existing = rows.find((r) => r.key === key);
    if (existing) {
      existing.removed = false;
      existing.value = valueInput.value;
    } else {
      rows.push({ key, value: valueInput.value, original: undefined, stored: false, removed: false });
    }
    replace(message, `${key} added; save to apply.`);
    rerender();
  };
  const addButton = h('button', { type: 'button', class: 'btn', onclick: add }, `Add ${noun}`);
  // Enter in the add row adds the row instead of submitting the whole form.
  for (const i of [keyInput, valueInput])
    i.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        add();
      }
    });
  return h('div', null, table, h('div', { class: 'add-row' }, keyInput, valueInput, addButton));
}
