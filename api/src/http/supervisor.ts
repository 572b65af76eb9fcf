import { readFile } from 'node:fs/promises';

/** One child of the launcher as `<data dir>/supervisor.json` describes it (deploy/single-host/src/child.ts). */
export interface SupervisedChild {
  name: string;
  status: 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';
  pid: number | null;
  restarts: number;
  lastExit: { at: string; code: number | null; signal: string | null; lastError: string | null } | null;
}

/** The launcher's children, or undefined when the API does not run under the launcher (no file). */
export async function readSupervisor(file: string | undefined): Promise<SupervisedChild[] | undefined> {
  if (!file) return undefined;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { children?: SupervisedChild[] };
    return Array.isArray(parsed.children) ? parsed.children : undefined;
  } catch {
    return undefined;
  }
}

/** `ok`, or what is wrong: "worker restarting (3 restarts, last: exit code 1)". */
export function supervisorCheck(children: SupervisedChild[]): string {
  const down = children.filter((c) => c.status !== 'running');
  if (down.length === 0) return 'ok';
  return `down: ${down
    .map((c) => {
      const last = c.lastExit ? (c.lastExit.signal ?? `exit code ${c.lastExit.code ?? '?'}`) : 'none';
      return `${c.name} ${c.status} (${c.restarts} restarts, last exit: ${last})`;
    })
    .join('; ')}`;
}
