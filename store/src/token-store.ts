import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export type Role = 'admin' | 'deployer';
export interface TokenInfo {
  name: string;
  role: Role;
  /** null = every app */ apps: string[] | null;
  createdAt: string;
  /** The platform's own admin token (SIDECAR_ADMIN_TOKEN or the generated one), replaced when it changes. */
  platform?: true;
}

/** Tokens are stored only as SHA-256 hashes; the secret is shown once, at creation. */
export const hashToken = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');
export const newTokenSecret = () => `sct_${randomBytes(24).toString('base64url')}`;
/**
 * A token's public id: the first 16 hex digits of its hash. Shown in lists and used to revoke;
 * it reveals nothing usable (the secret has 192 random bits and only its hash is stored).
 */
export const tokenIdOf = (secret: string) => hashToken(secret).slice(0, TOKEN_ID_LENGTH);
const TOKEN_ID_LENGTH = 16;
export type ListedToken = TokenInfo & { id: string };

export class TokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async put(secret: string, info: TokenInfo): Promise<void> {
    await this.redis.hset(this.k.tokens, hashToken(secret), JSON.stringify(info));
  }

  async lookup(secret: string): Promise<TokenInfo | null> {
    const raw = await this.redis.hget(this.k.tokens, hashToken(secret));
    return raw ? (JSON.parse(raw) as TokenInfo) : null;
  }

  /** Every token, without secrets, oldest first. */
  async list(): Promise<ListedToken[]> {
    const all = await this.redis.hgetall(this.k.tokens);
    return Object.entries(all)
      .map(([hash, raw]) => ({ id: hash.slice(0, TOKEN_ID_LENGTH), ...(JSON.parse(raw) as TokenInfo) }))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Revokes the token with this id; false when there is none. Effective at once: lookups are never cached. */
  async revoke(id: string): Promise<boolean> {
    if (!new RegExp(`^[0-9a-f]{${TOKEN_ID_LENGTH}}$`).test(id)) return false;
    const hashes = (await this.redis.hkeys(this.k.tokens)).filter((h) => h.startsWith(id));
    if (hashes.length !== 1) return false;
    await this.redis.hdel(this.k.tokens, ...hashes);
    return true;
  }

  /**
   * Makes `secret` the platform's admin token (idempotent). An earlier platform admin token (the
   * operator changed it) is revoked; a token a user created is never touched, whatever its name.
   */
  async ensureAdmin(secret: string): Promise<void> {
    const all = await this.redis.hgetall(this.k.tokens);
    const stale = Object.entries(all)
      .filter(([hash, raw]) => hash !== hashToken(secret) && (JSON.parse(raw) as TokenInfo).platform === true)
      .map(([hash]) => hash);
    if (stale.length) await this.redis.hdel(this.k.tokens, ...stale);
    const current = all[hashToken(secret)];
    const createdAt = current ? (JSON.parse(current) as TokenInfo).createdAt : new Date().toISOString();
    await this.put(secret, { name: 'admin', role: 'admin', apps: null, createdAt, platform: true });
  }
}
