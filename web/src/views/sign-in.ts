import { ApiError, messageOf, request } from '../api/client.js';
import { session } from '../api/session.js';
import { navigate } from '../router.js';
import { h, replace } from '../ui/dom.js';

/** Sign in with an API token; it is checked against the API before it is kept. */
export function signIn(opts: { message: string | null; next: string }): HTMLElement {
  const alert = h('div', { class: 'form-message', role: 'alert' }, opts.message ?? '');
  const token = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    spellcheck: 'false',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card signin-card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in to Sidecar'),
    h(
      'p',
      { class: 'muted' },
      'Use an API token. The admin token is in ',
      h('code', null, '.sidecar/admin-token'),
      ' on the platform host. It is kept for this browser tab only.',
    ),
    h('label', { for: 'token' }, 'API token'),
    token,
    alert,
    submit,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = token.value.trim();
    if (!value) {
      replace(alert, 'Enter a token.');
      token.focus();
      return;
    }
    submit.disabled = true;
    replace(alert);
    request('GET', '/apps', { token: value })
      .then(() => {
        session.signIn(value);
        navigate(opts.next === '/sign-in' ? '/' : opts.next, { replace: true });
      })
      .catch((err: unknown) => {
        replace(
          alert,
          err instanceof ApiError && err.status === 401
            ? 'That token was not accepted. Check it and try again.'
            : `Could not sign in: ${messageOf(err)}`,
        );
        submit.disabled = false;
        token.focus();
        token.select();
      });
  });
  return h('div', { class: 'signin' }, form);
}
