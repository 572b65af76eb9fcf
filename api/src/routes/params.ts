import type { Request } from 'express';
import { assertAppName, DomainError, ErrorCode } from '@sidecar/core';
import { canAccessApp } from '../http/auth.js';

/** The `:app` of a request, validated and checked against the token; a foreign app is "not found". */
export function appParam(req: Request): string {
  const name = assertAppName(req.params.app);
  if (!canAccessApp(req.token, name)) throw new DomainError(ErrorCode.appNotFound, `app "${name}" not found`);
  return name;
}

export function stringParam(req: Request, key: string): string {
  const v = req.params[key];
  if (typeof v !== 'string' || v === '') throw new DomainError(ErrorCode.invalidRequest, `missing ${key}`);
  return v;
}
