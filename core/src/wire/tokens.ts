import { z } from 'zod';
import { isValidAppName } from '../names.js';
import { Timestamp } from './common.js';

export const TokenRole = z.enum(['admin', 'deployer']);

export const CreateTokenBody = z
  .object({
    name: z.string().min(1).max(64),
    apps: z
      .array(z.string().refine((a) => a === '*' || isValidAppName(a), 'each app must be a valid app name or "*"'))
      .min(1)
      .max(1000)
      .optional()
      .meta({ description: 'A deployer names the apps it may touch, or ["*"] for every app; an admin leaves it out' }),
    role: TokenRole.optional().meta({ description: 'Default deployer' }),
  })
  .strict()
  .meta({ id: 'CreateToken' });
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

export const TokenView = z
  .object({
    id: z.string().meta({ description: 'The first 16 hex digits of the stored hash; used to revoke' }),
    name: z.string(),
    role: TokenRole,
    apps: z.array(z.string()).nullable().meta({ description: 'null: every app' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'Token' });
export type TokenView = z.infer<typeof TokenView>;

export const CreatedToken = TokenView.extend({
  token: z.string().meta({ description: 'The secret: shown in this answer only, stored hashed' }),
}).meta({ id: 'CreatedToken' });
export type CreatedToken = z.infer<typeof CreatedToken>;
