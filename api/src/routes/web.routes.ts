import { join } from 'node:path';
import express, { Router } from 'express';

/**
 * The dashboard: the files of web/dist, and index.html for any other GET that is
 * not an API or git path, so a reload of a client-side route (/apps/hello) works.
 * Mounted after the API routes; a missing build just falls through to a 404.
 */
export function webRoutes(dist: string): Router {
  const r = Router();
  // Hashed asset names never change content; index.html must be revalidated to pick up a new build.
  r.use(express.static(dist, { index: false, immutable: true, maxAge: '1y' }));
  r.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || /^\/(api|git)(\/|$)/.test(req.path)) return next();
    if (!req.accepts('html')) return next();
    res.set('cache-control', 'no-cache');
    res.sendFile(join(dist, 'index.html'), (err) => {
      if (err && !res.headersSent) next();
    });
  });
  return r;
}
