import { api, appPath, messageOf } from '../api/client.js';
import type { Job, List } from '../api/types.js';
import { statusBadge } from '../ui/badge.js';
import { h, replace } from '../ui/dom.js';
import { ago, dateTime, duration } from '../ui/format.js';
import { poll } from '../ui/poll.js';
import { empty, errorState, loading } from '../ui/states.js';
import type { AppContext } from './app-context.js';

/** Splits a command line into words: whitespace separates, '…' and "…" group, \ escapes. No shell runs it. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) words.push(cur);
      cur = '';
      has = false;
    } else cur += ch;
  }
  if (quote) throw new Error(`unclosed ${quote} quote`);
  if (has || cur) words.push(cur);
  return words;
}

/** Run a one-off command against the current release; its status, exit code and output; earlier jobs. */
export function jobsTab(ctx: AppContext): HTMLElement {
  const input = h('input', {
    id: 'job-command',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'node task.js --dry-run',
    'aria-describedby': 'job-hint',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Run');
  const message = h('p', { class: 'form-message', role: 'status' });
  const list = h('div', null, loading('jobs'));
  let loaded = false;
  let lastJson = '';

  const refresh = async () => {
    try {
      const { items } = await api.get<List<Job>>(appPath(ctx.name, '/jobs'), ctx.signal);
      loaded = true;
      const json = JSON.stringify(items);
      if (json === lastJson) return; // unchanged: keep the DOM, so a reader's scroll position stays
      lastJson = json;
      replace(list, items.length === 0 ? empty('No jobs have run for this app yet.') : items.map(jobCard));
    } catch (e) {
      if (!ctx.signal.aborted && !loaded)
        replace(
          list,
          errorState(`Could not load the jobs: ${messageOf(e)}`, () => void refresh()),
        );
    }
  };
  // Jobs are short: a 2 s poll shows a result soon after it lands.
  poll(refresh, 2000, ctx.signal);

  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'job-title' },
    h('h2', { id: 'job-title' }, 'Run a command'),
    h('label', { for: 'job-command' }, 'Command'),
    h('div', { class: 'inline-field' }, input, submit),
    h(
      'p',
      { id: 'job-hint', class: 'hint' },
      "Runs in a new pod of the current release, with the app's environment, in the bundle's folder. Quotes group words; no shell is involved.",
    ),
    message,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    let command: string[];
    try {
      command = splitCommand(input.value);
    } catch (err) {
      replace(message, h('span', { class: 'error-text' }, messageOf(err)));
      return;
    }
    if (command.length === 0) {
      replace(message, h('span', { class: 'error-text' }, 'Enter a command.'));
      return;
    }
    submit.disabled = true;
    api
      .post<Job>(appPath(ctx.name, '/jobs'), { command })
      .then((job) => {
        replace(message, `Job ${job.id} started.`);
        return refresh();
      })
      .catch((err: unknown) => replace(message, h('span', { class: 'error-text' }, `Not started: ${messageOf(err)}`)))
      .finally(() => {
        submit.disabled = false;
      });
  });

  return h(
    'div',
    null,
    form,
    h('section', { class: 'card', 'aria-labelledby': 'jobs-title' }, h('h2', { id: 'jobs-title' }, 'Jobs'), list),
  );
}

function jobCard(j: Job): HTMLElement {
  const done = j.status === 'succeeded' || j.status === 'failed';
  const took =
    j.finishedAt && (j.startedAt ?? j.createdAt)
      ? Date.parse(j.finishedAt) - Date.parse(j.startedAt ?? j.createdAt)
      : null;
  return h(
    'article',
    { class: 'job', 'aria-label': `Job ${j.id}` },
    h(
      'div',
      { class: 'card-head' },
      h('code', { class: 'job-command' }, j.command.join(' ')),
      statusBadge(j.status),
      done && j.exitCode !== null ? h('span', null, `exit code ${j.exitCode}`) : null,
      h(
        'span',
        { class: 'muted' },
        `v${j.release} · `,
        h('time', { datetime: j.createdAt, title: dateTime(j.createdAt) }, ago(j.createdAt)),
        took !== null ? ` · took ${duration(took)}` : '',
      ),
    ),
    j.error && j.exitCode === null ? h('p', { class: 'error-text' }, j.error) : null,
    done
      ? h(
          'pre',
          { class: 'log short', 'aria-label': `Output of job ${j.id}`, tabindex: '0' },
          j.output ? j.output : '(no output)',
        )
      : h(
          'p',
          { class: 'muted', role: 'status' },
          h('span', { class: 'spinner', 'aria-hidden': 'true' }),
          ` ${j.status}…`,
        ),
  );
}
