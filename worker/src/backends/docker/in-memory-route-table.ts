import type { RouteTable, Upstream } from '@sidecar/core';

/**
 * A RouteTable kept in memory: our own port, implemented without a router, for
 * tests and for running the Docker target on its own. `set` applies at once.
 */
export class InMemoryRouteTable implements RouteTable {
  private readonly table = new Map<string, Upstream[]>();
  /** Every change in order, so tests can assert when routes moved. */
  readonly history: { app: string; upstreams: Upstream[] | null; at: number }[] = [];

  async set(app: string, upstreams: Upstream[]): Promise<void> {
    this.table.set(
      app,
      upstreams.map((u) => ({ ...u })),
    );
    this.history.push({ app, upstreams: upstreams.map((u) => ({ ...u })), at: Date.now() });
  }

  async declare(app: string): Promise<void> {
    if (!this.table.has(app)) await this.set(app, []);
  }

  async get(app: string): Promise<Upstream[]> {
    return (this.table.get(app) ?? []).map((u) => ({ ...u }));
  }

  /** No router holds connections here: nothing to wait for. */
  async waitForDrain(): Promise<void> {}

  async remove(app: string): Promise<void> {
    this.table.delete(app);
    this.history.push({ app, upstreams: null, at: Date.now() });
  }
}
