import { z } from 'zod';
import 'zod-openapi';
import type { ZodOpenApiOperationObject, ZodOpenApiResponseObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import type { ErrorCode } from '@sidecar/core';
import { AppName, type PROBLEM_CODES, Problem } from '@sidecar/core/wire';
import { statusOf } from '../http/problem.js';

type Code = (typeof PROBLEM_CODES)[number];

/** A JSON answer. */
export const json = (description: string, schema: z.ZodType, extra: Partial<ZodOpenApiResponseObject> = {}) => ({
  description,
  content: { 'application/json': { schema } },
  ...extra,
});

/** `Location` of what a 202 or 201 started or made (a deploy, a job). */
export const location = z.object({
  location: z
    .string()
    .meta({ description: 'The URL of what was started', examples: ['/api/v1/apps/hello/deploys/d_k3j9x2'] }),
});

export const appPath = z.object({ app: AppName });
export const appIdPath = (what: string) =>
  z.object({ app: AppName, id: z.string().meta({ description: `The ${what}'s id` }) });

const statusOfCode = (code: Code): number =>
  code === 'invalid_json' || code === 'bad_request' ? 400 : statusOf(code as ErrorCode);

/** Error answers: problem+json, one response per HTTP status, naming the `code` values it may carry. */
export function problems(codes: readonly Code[]): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, Code[]>();
  for (const c of new Set(codes)) byStatus.set(statusOfCode(c), [...(byStatus.get(statusOfCode(c)) ?? []), c]);
  return Object.fromEntries(
    [...byStatus].map(([status, cs]) => [
      String(status),
      {
        description: `application/problem+json; \`code\`: ${cs.map((c) => `\`${c}\``).join(', ')}`,
        content: { 'application/problem+json': { schema: Problem } },
      },
    ]),
  );
}

type ApiOperation = Omit<ZodOpenApiOperationObject, 'responses'> & {
  /** The answers that are not errors. */
  responses: ZodOpenApiResponsesObject;
  /** The error codes this operation answers beyond those every /api/v1 call may. */
  errors?: Code[];
  /** `:app` in the path: a bad name is 400 `invalid_name`, an app the token may not touch is 404 `app_not_found`. */
  appScoped?: boolean;
};

/**
 * One operation under /api/v1: bearer auth (401), the state store (503; 507 when its disk is full), malformed JSON bodies
 * (400 `invalid_json`), and for app-scoped paths the app's name and existence.
 */
export function apiOp({ errors = [], appScoped = false, responses, ...op }: ApiOperation): ZodOpenApiOperationObject {
  const always: Code[] = ['unauthorized', 'store_unavailable', 'insufficient_storage'];
  if (op.requestBody?.content['application/json']) always.push('invalid_json', 'invalid_request');
  if (appScoped) always.push('invalid_name', 'app_not_found');
  return { ...op, responses: { ...responses, ...problems([...errors, ...always]) } };
}

/** A body of raw bytes of one media type (a bundle, git's packs). */
export const binary = (type: string) => ({ [type]: { schema: { type: 'string' as const, contentMediaType: type } } });
