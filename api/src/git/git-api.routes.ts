import { Router } from 'express';
import { parseInput, PatchGitBody } from '@sidecar/core/wire';
import type { Stores } from '@sidecar/store';
import { appParam } from '../routes/params.js';
import type { GitSettings } from './git-settings.js';
import { GitRepos } from './repos.js';

/**
 * The git side of an app under /api/v1 (bearer auth, JSON):
 *   GET   /apps/:app/git  → {url, deployBranches, branches: [{name, sha}]}
 *   PATCH /apps/:app/git  {deployBranch: "prod" | null}: which branch deploys (null: main or master)
 */
export function gitApiRoutes(deps: { stores: Stores; git: GitSettings }): Router {
  const r = Router();
  const repos = new GitRepos(deps.git);

  const view = async (name: string, origin: string) => ({
    url: `${origin}/git/${name}.git`,
    deployBranches: await repos.deployBranches(name),
    branches: await repos.branches(name),
  });

  r.get('/apps/:app/git', async (req, res) => {
    const app = await deps.stores.apps.get(appParam(req));
    await repos.ensure(app);
    res.json(await view(app.name, `${req.protocol}://${req.get('host')}`));
  });

  r.patch('/apps/:app/git', async (req, res) => {
    const app = await deps.stores.apps.get(appParam(req));
    const { deployBranch } = parseInput(PatchGitBody, req.body);
    await repos.setDeployBranch(app, deployBranch);
    res.json(await view(app.name, `${req.protocol}://${req.get('host')}`));
  });

  return r;
}
