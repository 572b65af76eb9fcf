import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The admin token: SIDECAR_ADMIN_TOKEN, else the one in the data dir, else a new one written there (0600). */
export async function adminToken(
  dataDir: string,
  fromEnv: string | undefined,
): Promise<{ token: string; file: string | null }> {
  if (fromEnv) return { token: fromEnv, file: null };
  const file = join(dataDir, 'admin-token');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing) return { token: existing, file };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = `sct_${randomBytes(24).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { token, file };
}
