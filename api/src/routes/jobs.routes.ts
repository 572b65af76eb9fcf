import { Router } from 'express';
import type { Stores } from '@sidecar/store';
import type { JobService } from '../services/job-service.js';
import { appParam, stringParam } from './params.js';

export function jobsRoutes(deps: { stores: Stores; jobs: JobService }): Router {
  const r = Router();
  r.post('/apps/:app/jobs', async (req, res) => {
    const job = await deps.jobs.run(appParam(req), req.body);
    res.status(202).location(`/api/v1/apps/${job.app}/jobs/${job.id}`).json(job);
  });
  r.get('/apps/:app/jobs', async (req, res) => {
    const name = appParam(req);
    await deps.stores.apps.get(name);
    res.json({ items: await deps.stores.jobs.list(name) });
  });
  r.get('/apps/:app/jobs/:id', async (req, res) => {
    res.json(await deps.stores.jobs.get(appParam(req), stringParam(req, 'id')));
  });
  return r;
}
