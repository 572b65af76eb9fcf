import { api, appPath, messageOf } from '../api/client.js';
import type { Deploy, List } from '../api/types.js';
import { uploadBundle } from '../api/upload.js';
import { type Bundle, bundleFromDrop, bundleFromFileList } from '../pack/bundle.js';
import { statusBadge } from '../ui/badge.js';
import { h, replace, uid } from '../ui/dom.js';
import { ago, bytes, dateTime, duration } from '../ui/format.js';
import { poll } from '../ui/poll.js';
import { empty, errorState, loading } from '../ui/states.js';
import type { AppContext } from './app-context.js';
import { deployLog } from './deploy-log.js';
import { gitCard } from './git-card.js';
import { scaleCard } from './scale-card.js';
import { scaleToZeroCard } from './scale-to-zero-card.js';

/** Deploy from the browser (drop or pick; a folder is packed here), follow its log; recent deploys; scale; git. */
export function deployTab(ctx: AppContext): HTMLElement {
  const logSlot = h('div', { class: 'log-slot' });
  const history = h('div', null, loading('deploys'));
  let followed: AbortController | null = null;

  const follow = (deployId: string, title: string) => {
    followed?.abort();
    followed = new AbortController();
    const signal = AbortSignal.any([ctx.signal, followed.signal]);
    replace(
      logSlot,
      deployLog({
        app: ctx.name,
        deployId,
        title,
        signal,
        onEnd: () => {
          void ctx.refresh().catch(() => undefined);
          void refreshHistory();
        },
      }),
    );
  };

  let loaded = false;
  const refreshHistory = async () => {
    try {
      const { items } = await api.get<List<Deploy>>(appPath(ctx.name, '/deploys'), ctx.signal);
      loaded = true;
      replace(
        history,
        items.length === 0
          ? empty('No deploys yet. Drop a bundle above to make the first one.')
          : deploysTable(items, follow),
      );
    } catch (e) {
      if (!ctx.signal.aborted && !loaded)
        replace(
          history,
          errorState(`Could not load the deploys: ${messageOf(e)}`, () => void refreshHistory()),
        );
    }
  };
  poll(refreshHistory, 5000, ctx.signal);

  return h(
    'div',
    { class: 'grid' },
    h(
      'div',
      { class: 'col-main' },
      uploadCard(ctx, (d) => follow(d.id, 'Deploy from the dashboard')),
      logSlot,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'deploys-title' },
        h('h2', { id: 'deploys-title' }, 'Recent deploys'),
        history,
      ),
    ),
    h(
      'div',
      { class: 'col-side' },
      scaleCard(ctx, (d) => follow(d.id, 'Scale rollout')),
      scaleToZeroCard(ctx),
      gitCard(ctx.name, ctx.signal),
    ),
  );
}

function uploadCard(ctx: AppContext, onDeploy: (d: Deploy) => void): HTMLElement {
  const archiveId = uid('archive');
  const folderId = uid('folder');
  const progressId = uid('progress');
  const archive = h('input', {
    id: archiveId,
    type: 'file',
    class: 'visually-hidden',
    accept: '.zip,.tar.gz,.tgz,.tar,application/zip,application/gzip,application/x-tar',
  });
  const folder = h('input', { id: folderId, type: 'file', class: 'visually-hidden', webkitdirectory: true });
  const progress = h('progress', { id: progressId, max: '1', value: '0' });
  const progressText = h('span', { class: 'muted' });
  const progressRow = h(
    'div',
    { class: 'progress-row', hidden: true },
    h('label', { for: progressId }, 'Upload progress'),
    progress,
    progressText,
  );
  const message = h('p', { class: 'form-message', role: 'status' });
  let busy = false;

  const deploy = async (make: () => Promise<Bundle>) => {
    if (busy) return;
    busy = true;
    zone.setAttribute('aria-busy', 'true');
    try {
      replace(message, 'Preparing the bundle…');
      const bundle = await make();
      progressRow.hidden = false;
      progress.value = 0;
      replace(message, `Uploading ${bundle.label}…`);
      const d = await uploadBundle({
        app: ctx.name,
        body: bundle.blob,
        contentType: bundle.contentType,
        onProgress: (loaded, total) => {
          progress.value = total ? loaded / total : 0;
          replace(progressText, `${bytes(loaded)} of ${bytes(total)}`);
        },
      });
      progress.value = 1;
      replace(message, `Uploaded ${bundle.label}. Deploy ${d.id} is ${d.status}.`);
      onDeploy(d);
    } catch (e) {
      replace(message, h('span', { class: 'error-text' }, `Deploy not started: ${messageOf(e)}`));
    } finally {
      busy = false;
      zone.removeAttribute('aria-busy');
      archive.value = '';
      folder.value = '';
    }
  };

  archive.addEventListener('change', () => {
    if (archive.files?.length) void deploy(() => bundleFromFileList(archive.files!));
  });
  folder.addEventListener('change', () => {
    if (folder.files?.length) void deploy(() => bundleFromFileList(folder.files!));
  });

  const zone = h(
    'div',
    { class: 'dropzone', role: 'group', 'aria-labelledby': 'drop-title', 'aria-describedby': 'drop-hint' },
    h('p', { id: 'drop-title', class: 'dropzone-title' }, 'Drop a folder, a .zip or a .tar.gz here'),
    h('p', { id: 'drop-hint', class: 'hint' }, 'A folder is packed into a .tar.gz in this browser. Or pick one:'),
    h(
      'div',
      { class: 'button-row' },
      h('label', { for: archiveId, class: 'btn' }, 'Choose archive…'),
      archive,
      h('label', { for: folderId, class: 'btn' }, 'Choose folder…'),
      folder,
    ),
  );
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    const dt = e.dataTransfer;
    if (dt) void deploy(() => bundleFromDrop(dt));
  });

  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Deploy a new release'),
    zone,
    progressRow,
    message,
  );
}

function deploysTable(items: Deploy[], follow: (id: string, title: string) => void): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table' },
      h('caption', { class: 'visually-hidden' }, 'Recent deploys, newest first'),
      h(
        'thead',
        null,
        h('tr', null, ...['When', 'Source', 'Status', 'Release', 'Took', ''].map((c) => h('th', { scope: 'col' }, c))),
      ),
      h(
        'tbody',
        null,
        ...items.slice(0, 15).map((d) =>
          h(
            'tr',
            null,
            h('td', null, h('time', { datetime: d.createdAt, title: dateTime(d.createdAt) }, ago(d.createdAt))),
            h('td', null, d.source),
            h(
              'td',
              null,
              statusBadge(d.status),
              d.error ? h('span', { class: 'error-text small' }, ` ${d.error.message}`) : null,
            ),
            h('td', null, d.release === null ? '—' : `v${d.release}`),
            h('td', null, duration(d.timings.totalMs)),
            h(
              'td',
              null,
              h(
                'button',
                {
                  type: 'button',
                  class: 'btn btn-small',
                  'aria-label': `Show the log of deploy ${d.id}`,
                  onclick: () => follow(d.id, `Deploy ${d.release === null ? '' : `of v${d.release}`}`),
                },
                'Show log',
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
