import { api, appPath, messageOf } from '../api/client.js';
import type { Deploy, List, Release } from '../api/types.js';
import { h, replace } from '../ui/dom.js';
import { ago, dateTime, shortDigest } from '../ui/format.js';
import { confirmDialog } from '../ui/confirm.js';
import { poll } from '../ui/poll.js';
import { empty, errorState, loading } from '../ui/states.js';
import type { AppContext } from './app-context.js';
import { deployLog } from './deploy-log.js';

/**
 * Release history: version, where it came from (the deploy that made it), git commit,
 * image digest, runtime, time; one-click rollback with a confirmation.
 */
export function releasesTab(ctx: AppContext): HTMLElement {
  const list = h('div', null, loading('releases'));
  const logSlot = h('div', { class: 'log-slot' });
  let loaded = false;

  const rollback = async (version: number) => {
    const ok = await confirmDialog({
      title: `Roll back to v${version}?`,
      body: `A new release is made from v${version}'s images and configuration and rolled out; the current release keeps serving until it is ready.`,
      confirm: `Roll back to v${version}`,
    });
    if (!ok) return;
    try {
      const d = await api.post<Deploy>(appPath(ctx.name, '/rollback'), { version });
      replace(
        logSlot,
        deployLog({
          app: ctx.name,
          deployId: d.id,
          title: `Rollback to v${version}`,
          signal: ctx.signal,
          onEnd: () => {
            void refresh();
            void ctx.refresh().catch(() => undefined);
          },
        }),
      );
      logSlot.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      replace(logSlot, h('p', { class: 'state state-error', role: 'alert' }, `Rollback not started: ${messageOf(e)}`));
    }
  };

  const refresh = async () => {
    try {
      const [rels, deps] = await Promise.all([
        api.get<List<Release>>(appPath(ctx.name, '/releases'), ctx.signal),
        api.get<List<Deploy>>(appPath(ctx.name, '/deploys'), ctx.signal),
      ]);
      loaded = true;
      const byId = new Map(deps.items.map((d) => [d.id, d]));
      replace(
        list,
        rels.items.length === 0
          ? empty('No releases yet. A release is made by each successful deploy, config change or rollback.')
          : releasesTable(rels.items, byId, (v) => void rollback(v)),
      );
    } catch (e) {
      if (!ctx.signal.aborted && !loaded)
        replace(
          list,
          errorState(`Could not load the releases: ${messageOf(e)}`, () => void refresh()),
        );
    }
  };
  poll(refresh, 5000, ctx.signal);

  return h(
    'div',
    null,
    logSlot,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'releases-title' },
      h('h2', { id: 'releases-title' }, 'Releases'),
      list,
    ),
  );
}

function releasesTable(items: Release[], deploys: Map<string, Deploy>, rollback: (v: number) => void): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table' },
      h('caption', { class: 'visually-hidden' }, 'Releases, newest first'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ...['Version', 'Source', 'Commit', 'Image digest', 'Runtime', 'Created', ''].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        ...items.map((r) => {
          const d = deploys.get(r.deployId);
          const commit = r.commit ?? d?.commit ?? null;
          return h(
            'tr',
            { class: r.current ? 'current' : null },
            h(
              'th',
              { scope: 'row' },
              `v${r.version}`,
              r.current ? h('span', { class: 'badge badge-current' }, 'current') : null,
            ),
            h('td', null, d?.source ?? '—'),
            h(
              'td',
              null,
              commit ? h('code', { title: `${commit.sha}\n${commit.message}` }, commit.sha.slice(0, 10)) : '—',
            ),
            h('td', null, h('code', { title: r.imageDigest }, shortDigest(r.imageDigest))),
            h('td', null, h('code', { title: r.runtimeImage }, runtimeName(r.runtimeImage))),
            h('td', null, h('time', { datetime: r.createdAt, title: dateTime(r.createdAt) }, ago(r.createdAt))),
            h(
              'td',
              null,
              r.current
                ? null
                : h(
                    'button',
                    { type: 'button', class: 'btn btn-small', onclick: () => rollback(r.version) },
                    `Roll back to v${r.version}`,
                  ),
            ),
          );
        }),
      ),
    ),
  );
}

/** `127.0.0.1:5000/sidecar/runtime-node:abc123` → `runtime-node:abc123`. */
const runtimeName = (image: string): string => image.slice(image.lastIndexOf('/') + 1);
