import { z } from 'zod';
import { ErrorCode } from '../errors.js';
import { APP_NAME_PATTERN } from '../names.js';

/** An RFC 3339 time in UTC, as every timestamp the API answers. */
export const Timestamp = z.iso
  .datetime()
  .meta({ description: 'RFC 3339 time (UTC)', examples: ['2026-11-27T17:00:00.000Z'] });

export const AppName = z
  .string()
  .regex(APP_NAME_PATTERN)
  .meta({
    id: 'AppName',
    description: 'A DNS-1123 label of 1-30 characters; anything else is 400 `invalid_name`',
    examples: ['hello'],
  });

/** `{items: [...]}`: every list the API answers. */
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });
export interface List<T> {
  items: T[];
}

/** Codes of the platform's own errors, plus those of malformed requests the body parser reports. */
export const PROBLEM_CODES = [...Object.values(ErrorCode), 'invalid_json', 'bad_request'] as const;

/** RFC 9457 problem details: every error the API answers (`application/problem+json`). */
export const Problem = z
  .object({
    type: z.string().meta({ description: '`https://sidecar.dev/problems/<code>`' }),
    title: z.string().meta({ description: "The HTTP status's reason phrase" }),
    status: z.number().int(),
    detail: z.string().meta({ description: 'What went wrong, for a person; names the field or limit at fault' }),
    code: z.enum(PROBLEM_CODES).meta({ description: 'Stable machine code; decide on this, not on `detail`' }),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof Problem>;
