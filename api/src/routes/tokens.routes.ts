import { Router } from 'express';
import { z } from 'zod';
import { isValidAppName } from '@sidecar/core';
import { newTokenSecret, type Stores } from '@sidecar/store';
import { assertAdmin } from '../http/auth.js';
import { parseBody } from '../services/app-service.js';

const CreateToken = z.object({
  name: z.string().min(1).max(64),
  apps: z.array(z.string().refine(isValidAppName, 'each app must be a valid app name')).max(1000).optional(),
  role: z.enum(['admin', 'deployer']).optional(),
}).strict();

/** POST /api/v1/tokens (admin only): a new token; its secret is in this response only, stored hashed. */
export function tokensRoutes(deps: { stores: Stores }): Router {
  const r = Router();
  r.post('/tokens', async (req, res) => {
    assertAdmin(req.token);
    const b = parseBody(CreateToken, req.body);
    const role = b.role ?? 'deployer';
    const info = { name: b.name, role, apps: role === 'admin' ? null : (b.apps ?? null), createdAt: new Date().toISOString() };
    const secret = newTokenSecret();
    await deps.stores.tokens.put(secret, info);
    res.status(201).json({ ...info, token: secret });
  });
  return r;
}
