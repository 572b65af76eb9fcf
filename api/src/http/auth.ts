import type { NextFunction, Request, Response } from 'express';
import { DomainError, ErrorCode } from '@sidecar/core';
import { tokenIdOf, type TokenInfo, type TokenStore } from '@sidecar/store';

declare module 'express-serve-static-core' {
  interface Request {
    token?: TokenInfo;
    /** The public id of the request's token (tokenIdOf). */
    tokenId?: string;
  }
}

/** How often a long-lived response (a followed log, SSE) checks that its token still exists. */
export const TOKEN_RECHECK_MS = 5000;

/** Bearer-token auth for every /api/ call (API.md "Auth"). */
export function requireToken(tokens: TokenStore, opts: { recheckMs?: number } = {}) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) {
      res.set('WWW-Authenticate', 'Bearer');
      throw new DomainError(ErrorCode.unauthorized, 'missing bearer token: send "Authorization: Bearer <token>"');
    }
    const info = await tokens.lookup(m[1]!);
    if (!info) {
      res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new DomainError(ErrorCode.unauthorized, 'invalid token');
    }
    req.token = info;
    req.tokenId = tokenIdOf(m[1]!);
    endWhenRevoked(tokens, m[1]!, res, opts.recheckMs ?? TOKEN_RECHECK_MS);
    next();
  };
}

/**
 * A revoked token must not keep a followed log open: while the response lasts, the token is
 * looked up again now and then, and the connection is closed once it is gone. (A failed lookup,
 * Redis restarting, is not a revocation.)
 */
function endWhenRevoked(tokens: TokenStore, secret: string, res: Response, everyMs: number): void {
  const timer = setInterval(() => {
    void tokens.lookup(secret).then(
      (found) => {
        if (!found) res.destroy();
      },
      () => undefined,
    );
  }, everyMs);
  timer.unref();
  res.once('close', () => clearInterval(timer));
}

/** May this token touch the app? A token that may not gets "not found": existence is not revealed. */
export function canAccessApp(token: TokenInfo | undefined, app: string): boolean {
  if (!token) return false;
  return token.role === 'admin' || token.apps === null || token.apps.includes(app);
}

export function assertAdmin(token: TokenInfo | undefined): void {
  if (token?.role !== 'admin') throw new DomainError(ErrorCode.forbidden, 'this needs an admin token');
}
