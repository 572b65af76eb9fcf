import { api, appPath, messageOf } from '../api/client.js';
import { readSse } from '../api/sse.js';
import type { Deploy, List } from '../api/types.js';
import { statusBadge } from '../ui/badge.js';
import { h, replace } from '../ui/dom.js';
import { duration } from '../ui/format.js';
import { sleep } from '../ui/poll.js';

/**
 * One deploy's build and deploy log, streamed live (server-sent events) until
 * the deploy ends, then its final status and timings. A dropped stream is
 * read again from the start (the API replays the whole log), so no line is lost.
 */
export function deployLog(opts: {
  app: string;
  deployId: string;
  title?: string;
  signal: AbortSignal;
  onEnd?: (d: Deploy) => void;
}): HTMLElement {
  const { app, deployId, signal } = opts;
  const status = h('span', null, statusBadge('queued'));
  const log = h('pre', { class: 'log', role: 'log', 'aria-label': `Log of deploy ${deployId}`, tabindex: '0' });
  const summary = h(
    'div',
    { class: 'deploy-summary', 'aria-live': 'polite' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    'Streaming the log…',
  );
  const section = h(
    'section',
    { class: 'card deploy-log', 'aria-label': `${opts.title ?? 'Deploy'} (${deployId})` },
    h(
      'div',
      { class: 'card-head' },
      h('h3', null, opts.title ?? 'Deploy'),
      h('code', { class: 'muted' }, deployId),
      status,
    ),
    log,
    summary,
  );

  let lines = 0;
  const addLine = (text: string) => {
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    log.append(`${text}\n`);
    lines++;
    if (stick) log.scrollTop = log.scrollHeight; // follow the tail unless the reader scrolled up
  };

  const finish = async () => {
    const d = await api.get<Deploy>(appPath(app, `/deploys/${encodeURIComponent(deployId)}`), signal);
    replace(status, statusBadge(d.status));
    const t = d.timings;
    replace(
      summary,
      h('strong', null, `Deploy ${d.status}`),
      d.release !== null ? ` — release v${d.release}` : '',
      h(
        'span',
        { class: 'timings' },
        ` · queued ${duration(t.queuedMs)} · build ${duration(t.buildMs)} · deploy ${duration(t.deployMs)} · total ${duration(t.totalMs)}`,
      ),
      d.error ? h('p', { class: 'error-text' }, `${d.error.code}: ${d.error.message}`) : null,
    );
    summary.classList.add(`summary-${d.status}`);
    opts.onEnd?.(d);
  };

  void (async () => {
    for (let attempt = 0; attempt < 20 && !signal.aborted; attempt++) {
      let ended = false;
      log.textContent = '';
      lines = 0;
      try {
        await readSse(
          `/api/v1${appPath(app, `/deploys/${encodeURIComponent(deployId)}/logs`)}`,
          (e) => {
            if (e.event === 'line') addLine(JSON.parse(e.data) as string);
            else if (e.event === 'end') ended = true;
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted) return;
        replace(summary, h('span', { class: 'error-text' }, `The log stream broke (${messageOf(err)}); reconnecting…`));
      }
      if (ended) {
        if (lines === 0) addLine('(no log lines)');
        await finish().catch((err: unknown) => {
          if (!signal.aborted)
            replace(
              summary,
              h('span', { class: 'error-text' }, `Could not read the deploy's result: ${messageOf(err)}`),
            );
        });
        return;
      }
      await sleep(1000, signal);
    }
  })();
  return section;
}

/** The newest deploy of an app, or null: how a config change's rollout is found (PATCH answers with the App). */
export async function newestDeploy(app: string): Promise<Deploy | null> {
  const { items } = await api.get<List<Deploy>>(appPath(app, '/deploys'));
  return items[0] ?? null;
}

const FINAL_STATUSES: ReadonlySet<Deploy['status']> = new Set(['succeeded', 'failed', 'cancelled']);
export const isFinal = (d: Deploy): boolean => FINAL_STATUSES.has(d.status);
