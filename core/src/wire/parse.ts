import type { z } from 'zod';
import { DomainError, ErrorCode } from '../errors.js';

/**
 * Validates a request's body or query against its wire schema. A failure is one `invalid_request`
 * whose message names every field at fault (`replicas: ...; env.PORT: ...`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
    throw new DomainError(ErrorCode.invalidRequest, msg);
  }
  return r.data;
}
