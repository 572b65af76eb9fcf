import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * App secrets at rest: AES-256-GCM with a random 96-bit IV per value, sealed as
 * `v2:<keyId>:<iv>:<tag>:<ciphertext>` (base64url), with the value's place (app and key name) as
 * associated data: a ciphertext copied to another app or another key does not open. Several keys
 * may be loaded: the first seals, any opens — that is how keys are rotated (docs/operations.md).
 * `v1` values (no associated data) still open, and are re-sealed as `v2` at the worker's start.
 */
export interface SecretKey {
  id: string;
  key: Buffer;
}

const PREFIX = 'v2';
const LEGACY = 'v1';

export class SecretBox {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: readonly SecretKey[]) {
    if (keys.length === 0) throw new Error('secrets: at least one key is needed');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`secrets: key "${k.id}" must be 32 bytes (base64 of 32 random bytes)`);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(k.id))
        throw new Error(`secrets: key id "${k.id}" must be 1-32 of A-Z a-z 0-9 _ -`);
    }
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get activeKeyId(): string {
    return this.keys[0]!.id;
  }

  /** Seals `plain` for one place (`context`, e.g. `app/KEY`): it opens only with the same context. */
  seal(plain: string, context: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [
      PREFIX,
      id,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ct.toString('base64url'),
    ].join(':');
  }

  open(sealed: string, context: string): string {
    const [prefix, id, iv, tag, ct] = sealed.split(':');
    if ((prefix !== PREFIX && prefix !== LEGACY) || !id || iv === undefined || tag === undefined || ct === undefined)
      throw new Error('secrets: a stored value is not sealed');
    const key = this.byId.get(id);
    if (!key)
      throw new Error(
        `secrets: a value is sealed with key "${id}", which is not loaded (SIDECAR_SECRETS_KEYS or secrets.keys)`,
      );
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    if (prefix === PREFIX) decipher.setAAD(Buffer.from(context, 'utf8'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`secrets: the value of ${context} does not open (it was sealed for another place, or altered)`);
    }
  }

  /** Whether a value should be sealed again: by an older key, or in the format without associated data. */
  isStale(sealed: string): boolean {
    const [prefix, id] = sealed.split(':');
    return prefix !== PREFIX || id !== this.activeKeyId;
  }

  keyIdOf(sealed: string): string | undefined {
    return sealed.split(':')[1];
  }
}

/** `id:base64key,id:base64key` — the first one seals. */
export function parseSecretKeys(text: string): SecretKey[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'))
    .map((entry) => {
      const at = entry.indexOf(':');
      if (at <= 0) throw new Error('secrets: each key is "<id>:<base64 of 32 bytes>"');
      return { id: entry.slice(0, at), key: Buffer.from(entry.slice(at + 1), 'base64') };
    });
}

/**
 * The platform's secret keys: SIDECAR_SECRETS_KEYS when set, else `<data dir>/secrets.keys`,
 * created (mode 0600) with one random key on first start. API and worker both call this; the
 * exclusive create makes whichever starts second read the first one's key.
 */
export async function loadSecretBox(opts: { env?: string; dataDir: string }): Promise<SecretBox> {
  if (opts.env) return new SecretBox(parseSecretKeys(opts.env));
  const file = join(opts.dataDir, 'secrets.keys');
  await mkdir(dirname(file), { recursive: true });
  const fresh = `# AES-256-GCM keys for app secrets; the first one seals. See docs/operations.md (rotation).\nk1:${randomBytes(32).toString('base64')}\n`;
  try {
    await writeFile(file, fresh, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return new SecretBox(parseSecretKeys(await readFile(file, 'utf8')));
}
