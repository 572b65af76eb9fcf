import { type App, assertAppName, DomainError, ErrorCode, isDomainError } from '@sidecar/core';
import { type ListedToken, type Stores, tokenIdOf } from '@sidecar/store';
import { canAccessApp } from '../http/auth.js';
import type { AppService } from '../services/app-service.js';

export const GitService = { uploadPack: 'git-upload-pack', receivePack: 'git-receive-pack' } as const;
export type GitService = (typeof GitService)[keyof typeof GitService];

/**
 * The API token from an Authorization header: Basic with any user name and the token as the
 * password (what git's credential prompt and `http://x:<token>@host/` send), or Bearer for scripts.
 */
export function tokenFromHeader(header: string | undefined): string | null {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = colon === -1 ? '' : decoded.slice(colon + 1);
    return password || null;
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return bearer ? bearer[1]! : null;
}

/** The token a git request carries, with its public id (a push that creates an app counts against it). */
export async function authenticate(tokens: Stores['tokens'], header: string | undefined): Promise<ListedToken> {
  const secret = tokenFromHeader(header);
  if (!secret)
    throw new DomainError(
      ErrorCode.unauthorized,
      'authentication required: any user name, a Sidecar API token as the password',
    );
  const info = await tokens.lookup(secret);
  if (!info) throw new DomainError(ErrorCode.unauthorized, 'invalid token');
  return { ...info, id: tokenIdOf(secret) };
}

/**
 * The app a git request is for, after checking the token may touch it. A token that may not is
 * refused whether or not the app exists (the answer reveals nothing). Fetching an app that does
 * not exist is "not found"; pushing to one creates it, with the same rule as POST /apps.
 */
export async function appForGit(opts: {
  stores: Stores;
  apps: AppService;
  token: ListedToken;
  name: string;
  service: GitService;
}): Promise<App> {
  const name = assertAppName(opts.name);
  if (!canAccessApp(opts.token, name))
    throw new DomainError(ErrorCode.forbidden, `this token may not access app "${name}"`);
  const app = await opts.stores.apps.find(name);
  if (app) return app;
  if (opts.service === GitService.uploadPack) {
    throw new DomainError(ErrorCode.appNotFound, `app "${name}" does not exist; a push creates it`);
  }
  try {
    return await opts.apps.create({ name }, { tokenId: opts.token.id, role: opts.token.role });
  } catch (e) {
    if (isDomainError(e) && e.code === ErrorCode.appExists) return opts.stores.apps.get(name); // a concurrent first push
    throw e;
  }
}
