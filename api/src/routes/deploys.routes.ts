import { Router } from 'express';
import { DeployLogQuery, isFollow, parseInput } from '@sidecar/core/wire';
import type { Stores } from '@sidecar/store';
import type { DeployService } from '../services/deploy-service.js';
import { assertAdmin } from '../http/auth.js';
import { streamDeployLog } from './deploy-log.stream.js';
import { appParam, stringParam } from './params.js';

export function deploysRoutes(deps: { stores: Stores; deploys: DeployService }): Router {
  const r = Router();
  const { stores, deploys } = deps;

  r.post('/apps/:app/deploys', async (req, res) => {
    const len = req.get('content-length');
    const deploy = await deploys.upload({
      app: appParam(req),
      body: req,
      contentType: req.get('content-type'),
      contentLength: len === undefined ? undefined : Number(len),
      source: req.get('x-sidecar-source') === 'dashboard' ? 'dashboard' : 'api',
    });
    res.status(202).location(`/api/v1/apps/${deploy.app}/deploys/${deploy.id}`).json(deploy);
  });

  r.get('/apps/:app/deploys', async (req, res) => {
    const name = appParam(req);
    await stores.apps.get(name);
    res.json({ items: await stores.deploys.list(name) });
  });

  r.get('/apps/:app/deploys/:id', async (req, res) => {
    res.json(await stores.deploys.get(appParam(req), stringParam(req, 'id')));
  });

  r.get('/apps/:app/deploys/:id/logs', async (req, res) => {
    const deploy = await stores.deploys.get(appParam(req), stringParam(req, 'id'));
    const query = parseInput(DeployLogQuery, req.query);
    const sse = (req.get('accept') ?? '').includes('text/event-stream');
    const follow = sse || isFollow(query.follow);
    await streamDeployLog({ req, res, stores, deployId: deploy.id, follow, sse });
  });

  r.post('/runtime/rollout', async (req, res) => {
    assertAdmin(req.token);
    res.status(202).json({ items: await deploys.rolloutRuntime() });
  });

  r.post('/apps/:app/deploys/:id/cancel', async (req, res) => {
    res.status(202).json(await deploys.cancel(appParam(req), stringParam(req, 'id')));
  });

  return r;
}
