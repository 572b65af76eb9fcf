import { Router } from 'express';
import { DomainError, ErrorCode } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import { canAccessApp } from '../http/auth.js';
import type { AppService } from '../services/app-service.js';
import type { DeployService } from '../services/deploy-service.js';
import { appParam } from './params.js';

export function appsRoutes(deps: { stores: Stores; apps: AppService; deploys: DeployService }): Router {
  const r = Router();
  const { stores, apps } = deps;

  r.post('/apps', async (req, res) => {
    const body = (req.body ?? {}) as { name?: unknown };
    if (typeof body.name === 'string' && !canAccessApp(req.token, body.name)) {
      throw new DomainError(ErrorCode.forbidden, `this token may not create app "${body.name}"`);
    }
    const app = await apps.create(
      req.body,
      req.token && req.tokenId ? { tokenId: req.tokenId, role: req.token.role } : undefined,
    );
    res.status(201).json(apps.view(app));
  });

  r.get('/apps', async (req, res) => {
    const all = await stores.apps.list();
    res.json({ items: all.filter((a) => canAccessApp(req.token, a.name)).map((a) => apps.view(a)) });
  });

  r.get('/apps/:app', async (req, res) => {
    res.json(apps.view(await stores.apps.get(appParam(req))));
  });

  r.patch('/apps/:app', async (req, res) => {
    const updated = await apps.patch(appParam(req), req.body, async (app) => {
      const from = await stores.releases.get(app.name, app.currentRelease!);
      return deps.deploys.promote({ app, from, env: app.env, source: 'api', why: 'config change' });
    });
    res.json(apps.view(updated));
  });

  r.delete('/apps/:app', async (req, res) => {
    await apps.delete(appParam(req));
    res.status(204).end();
  });

  r.get('/apps/:app/releases', async (req, res) => {
    const name = appParam(req);
    const app = await stores.apps.get(name);
    const releases = await stores.releases.list(name);
    res.json({
      items: releases.map((rel) => ({
        version: rel.version,
        image: rel.image,
        imageDigest: rel.imageDigest,
        runtimeImage: rel.runtimeImage,
        runtimeImageDigest: rel.runtimeImageDigest ?? null,
        settings: rel.settings ?? null,
        imagePruned: rel.imagePruned ?? false,
        env: rel.env,
        createdAt: rel.createdAt,
        deployId: rel.deployId,
        current: rel.version === app.currentRelease,
        commit: rel.commit ?? null,
      })),
    });
  });

  r.post('/apps/:app/rollback', async (req, res) => {
    const deploy = await deps.deploys.rollback(appParam(req), req.body);
    res.status(202).location(`/api/v1/apps/${deploy.app}/deploys/${deploy.id}`).json(deploy);
  });

  r.get('/apps/:app/pods', async (req, res) => {
    const name = appParam(req);
    await stores.apps.get(name);
    res.json({ items: await stores.pods.list(name) });
  });

  return r;
}
