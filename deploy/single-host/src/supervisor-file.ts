import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildState } from './child.js';

/**
 * The launcher's view of its children, in `<data dir>/supervisor.json` (written atomically on every
 * change): the API reads it for `/readyz` and `/metrics`, tests read the pids from it.
 */
export class SupervisorFile {
  private readonly states = new Map<string, ChildState>();
  private writing: Promise<void> = Promise.resolve();
  private queued = false;

  constructor(private readonly dataDir: string) {}

  set(state: ChildState): void {
    this.states.set(state.name, state);
    this.schedule();
  }

  /** Resolves once everything set so far is on disk. */
  async flush(): Promise<void> {
    this.schedule();
    await this.writing;
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    this.writing = this.writing.then(async () => {
      this.queued = false;
      const file = join(this.dataDir, 'supervisor.json');
      const body = JSON.stringify({ updatedAt: new Date().toISOString(), children: [...this.states.values()] });
      await writeFile(`${file}.tmp`, body, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    });
    // A failed write is retried by the next change; never an unhandled rejection.
    this.writing = this.writing.catch(() => undefined);
  }
}
