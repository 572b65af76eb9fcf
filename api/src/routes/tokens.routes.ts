import { Router } from 'express';
import { z } from 'zod';
import { DomainError, ErrorCode, isValidAppName } from '@sidecar/core';
import { newTokenSecret, type Stores } from '@sidecar/store';
import { assertAdmin } from '../http/auth.js';
import { parseBody } from '../services/app-service.js';

const CreateToken = z.object({
  name: z.string().min(1).max(64),
  apps: z.array(z.string().refine((a) => a === '*' || isValidAppName(a), 'each app must be a valid app name or "*"')).min(1).max(1000).optional(),
  role: z.enum(['admin', 'deployer']).optional(),
}).strict();

/** POST /api/v1/tokens (admin only): a new token; its secret is in this response only, stored hashed. */
export function tokensRoutes(deps: { stores: Stores }): Router {
  const r = Router();
  r.post('/tokens', async (req, res) => {
    assertAdmin(req.token);
    const b = parseBody(CreateToken, req.body);
    const role = b.role ?? 'deployer';
    // Explicit scopes: a deployer names its apps ("*" for all); an admin has no list to be misread.
    if (role === 'deployer' && b.apps === undefined) {
      throw new DomainError(ErrorCode.invalidRequest, 'apps: name the apps a deployer token may touch, or ["*"] for every app');
    }
    if (role === 'admin' && b.apps !== undefined) throw new DomainError(ErrorCode.invalidRequest, 'apps: an admin token touches every app; leave apps out');
    const apps = role === 'admin' || b.apps?.includes('*') ? null : (b.apps ?? null);
    const info = { name: b.name, role, apps, createdAt: new Date().toISOString() };
    const secret = newTokenSecret();
    await deps.stores.tokens.put(secret, info);
    res.status(201).json({ ...info, token: secret });
  });
  return r;
}
