import { expect } from 'vitest';
import type { RunningPlatform } from './platform.js';

/** A JSON request to the API, with the admin token unless `token` is given. */
export function sendJson(
  p: RunningPlatform,
  method: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return p.api$(path, { method, headers, body: JSON.stringify(body) });
}

/**
 * The answer is an RFC 9457 problem with this status and code, whose detail matches `detail` (the
 * limit and its setting, for a limit). Returns the detail.
 */
export async function expectProblem(res: Response, status: number, code: string, detail: RegExp): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(text) as { status: number; code: string; detail: string };
  expect(problem).toMatchObject({ status, code });
  expect(problem.detail).toMatch(detail);
  return problem.detail;
}

/** A deployer token (`apps`: the apps it may touch and create; `["*"]` for any), made with the admin token. */
export async function deployerToken(p: RunningPlatform, name: string, apps: string[] = ['*']): Promise<string> {
  const res = await sendJson(p, 'POST', '/api/v1/tokens', { name, role: 'deployer', apps });
  if (res.status !== 201) throw new Error(`POST /tokens answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
