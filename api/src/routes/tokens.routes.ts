import { Router } from 'express';
import { DomainError, ErrorCode } from '@sidecar/core';
import { CreateTokenBody, parseInput } from '@sidecar/core/wire';
import { newTokenSecret, tokenIdOf, type Stores } from '@sidecar/store';
import { assertAdmin } from '../http/auth.js';

/**
 * Tokens (admin only). POST: a new token; its secret is in this response only, stored hashed.
 * GET: every token's id, name, role, apps and creation time (never a secret).
 * GET /whoami (any token): the request's own token, as GET /tokens lists it.
 * DELETE /tokens/:id: revoked at once (the API, git pushes and the dashboard stop accepting it).
 */
export function tokensRoutes(deps: { stores: Stores }): Router {
  const r = Router();
  r.post('/tokens', async (req, res) => {
    assertAdmin(req.token);
    const b = parseInput(CreateTokenBody, req.body);
    const role = b.role ?? 'deployer';
    // Explicit scopes: a deployer names its apps ("*" for all); an admin has no list to be misread.
    if (role === 'deployer' && b.apps === undefined) {
      throw new DomainError(
        ErrorCode.invalidRequest,
        'apps: name the apps a deployer token may touch, or ["*"] for every app',
      );
    }
    if (role === 'admin' && b.apps !== undefined)
      throw new DomainError(ErrorCode.invalidRequest, 'apps: an admin token touches every app; leave apps out');
    const apps = role === 'admin' || b.apps?.includes('*') ? null : (b.apps ?? null);
    const info = { name: b.name, role, apps, createdAt: new Date().toISOString() };
    const secret = newTokenSecret();
    await deps.stores.tokens.put(secret, info);
    res.status(201).json({ id: tokenIdOf(secret), ...info, token: secret });
  });
  // Any token: which one this is (the CLI's `login` and `whoami`). Never the secret.
  r.get('/whoami', (req, res) => {
    res.json({ id: req.tokenId, ...req.token });
  });
  r.get('/tokens', async (req, res) => {
    assertAdmin(req.token);
    res.json({ items: await deps.stores.tokens.list() });
  });
  r.delete('/tokens/:id', async (req, res) => {
    assertAdmin(req.token);
    const id = String(req.params.id);
    // Revoking the token a request is made with would lock its holder out mid-session: use another admin token.
    if (id === req.tokenId)
      throw new DomainError(ErrorCode.tokenInUse, 'this request uses that token: revoke it with another admin token');
    if (!(await deps.stores.tokens.revoke(id)))
      throw new DomainError(
        ErrorCode.tokenNotFound,
        `no token with id ${JSON.stringify(id)} (ids are listed by GET /api/v1/tokens)`,
      );
    res.status(204).end();
  });
  return r;
}
