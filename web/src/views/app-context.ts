import type { App } from '../api/types.js';

/** What every tab of the app page gets: the app as last loaded, and a way to reload it. */
export interface AppContext {
  name: string;
  app(): App;
  refresh(): Promise<App>;
  signal: AbortSignal;
}
