import { Router } from 'express';
import { DomainError, ErrorCode } from '@sidecar/core';
import type { Stores } from '@sidecar/store';
import { appParam, stringParam } from './params.js';

/**
 * What the platform sidecars expose through the API (docs/sidecars.md):
 * the CA that signs the TLS sidecars' certificates, and procinfo's process lists,
 * which the worker collects and publishes to Redis.
 */
export function sidecarsRoutes(deps: { stores: Stores; caCertPem?: string }): Router {
  const r = Router();

  if (deps.caCertPem !== undefined) {
    const pem = deps.caCertPem;
    r.get('/ca.pem', (_req, res) => {
      res.type('application/x-pem-file').send(pem);
    });
  }

  r.get('/apps/:app/pods/:pod/processes', async (req, res) => {
    const app = await deps.stores.apps.get(appParam(req));
    const pod = stringParam(req, 'pod');
    if (!app.sidecars.procinfo) {
      throw new DomainError(
        ErrorCode.invalidRequest,
        `app "${app.name}" has no procinfo sidecar: PATCH {"sidecars": {"procinfo": true}} adds it`,
      );
    }
    const pods = await deps.stores.pods.list(app.name);
    if (!pods.some((p) => p.name === pod))
      throw new DomainError(ErrorCode.notFound, `app "${app.name}" has no pod "${pod}"`);
    const snapshot = await deps.stores.processes.get(app.name, pod);
    // A pod started moments ago (or one without procinfo, made before the setting changed) has no snapshot yet.
    res.json({ items: snapshot?.items ?? [], time: snapshot?.time ?? null });
  });

  return r;
}
