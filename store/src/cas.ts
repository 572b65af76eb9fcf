import type { Redis } from 'ioredis';

/**
 * Optimistic read-modify-write of one JSON document (WATCH/MULTI/EXEC).
 * WATCH belongs to a connection, not to a caller: on a connection shared with
 * other work, another caller's EXEC or UNWATCH would silently drop this watch
 * and let a stale write through. So updates run on a connection of their own,
 * one at a time in this process; WATCH still guards against other processes.
 */
export class CasUpdater {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly conn: Redis) {}

  /**
   * Applies `change` to the document at `key`. `change` returns the next value and
   * optionally extra commands to run in the same transaction, or `undefined` to
   * leave the document alone. Returns the stored value and whether it changed.
   */
  update<T>(
    key: string,
    change: (current: T | null) => { next: T; also?: (m: ReturnType<Redis['multi']>) => void } | undefined,
  ): Promise<{ value: T | null; applied: boolean }> {
    const run = this.chain.then(() => this.attempt(key, change));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async attempt<T>(
    key: string,
    change: (current: T | null) => { next: T; also?: (m: ReturnType<Redis['multi']>) => void } | undefined,
  ): Promise<{ value: T | null; applied: boolean }> {
    for (let attempt = 0; attempt < 50; attempt++) {
      await this.conn.watch(key);
      const raw = await this.conn.get(key);
      const current = raw === null ? null : (JSON.parse(raw) as T);
      let decided: ReturnType<typeof change>;
      try {
        decided = change(current);
      } catch (e) {
        // A change may refuse (a limit): this connection's next WATCH must not inherit this one.
        await this.conn.unwatch();
        throw e;
      }
      if (!decided) {
        await this.conn.unwatch();
        return { value: current, applied: false };
      }
      const multi = this.conn.multi().set(key, JSON.stringify(decided.next));
      decided.also?.(multi);
      if (await multi.exec()) return { value: decided.next, applied: true };
    }
    throw new Error(`${key} is being changed too often; try again`);
  }

  async close(): Promise<void> {
    await this.chain;
    await this.conn.quit().catch(() => undefined);
  }
}
