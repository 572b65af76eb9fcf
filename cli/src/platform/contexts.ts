import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { CliConfig } from '../config.js';
import { CliError, ExitCode } from '../errors.js';

/**
 * The CLI's file, `$XDG_CONFIG_HOME/sidecar/config.json` (mode 0600 in a 0700 folder): named contexts
 * (an API and a token, like kubectl's), the current one, and the deployer tokens `git-remote` made,
 * by remote URL, for the git credential helper.
 */
const CliFile = z.object({
  current: z.string().nullable().default(null),
  contexts: z.record(z.string(), z.object({ api: z.string(), token: z.string() })).default({}),
  gitCredentials: z.record(z.string(), z.string()).default({}),
});
export type CliFile = z.infer<typeof CliFile>;

/** Where a command sends its requests, and which context (if any) that came from. */
export interface Target {
  api: string;
  token: string;
  context: string | null;
}

export async function readCliFile(path: string): Promise<CliFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return CliFile.parse({});
    throw e;
  }
  const parsed = CliFile.safeParse(JSON.parse(text));
  if (!parsed.success) throw new CliError(`${path} is not a sidecar config file: ${parsed.error.message}`, 1);
  return parsed.data;
}

/** Replaces the file at once (a write to a temporary file, then a rename), never readable by others. */
export async function writeCliFile(path: string, file: CliFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  // The mode argument is masked by umask; the file holds tokens, so make it exact.
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export async function updateCliFile(path: string, change: (file: CliFile) => void): Promise<CliFile> {
  const file = await readCliFile(path);
  change(file);
  await writeCliFile(path, file);
  return file;
}

/**
 * The API and token of a command: SIDECAR_API_URL and SIDECAR_TOKEN override the context's
 * (`--context NAME`, else the current one).
 */
export async function resolveTarget(config: Readonly<CliConfig>, contextName?: string): Promise<Target> {
  const file = await readCliFile(config.configFile);
  const name = contextName ?? file.current;
  const ctx = name ? file.contexts[name] : undefined;
  if (contextName && !ctx) throw new CliError(`no context "${contextName}" (sidecar context list)`, ExitCode.usage);
  const api = config.apiUrl ?? ctx?.api;
  const token = config.token ?? ctx?.token;
  if (!api || !token) {
    throw new CliError(
      'not logged in: run `sidecar login --api URL` (or set SIDECAR_API_URL and SIDECAR_TOKEN)',
      ExitCode.failed,
    );
  }
  return { api: api.replace(/\/+$/, ''), token, context: ctx ? name! : null };
}
