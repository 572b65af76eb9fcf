import { connect } from 'node:net';
import { join } from 'node:path';
import type { RunningPlatform } from '../../support/platform.js';

/**
 * The router's data plane as HAProxy sees it, for a failure's message: the servers of an app's backend
 * (address, port, operational and admin state, last health check), asked on the router's runtime API
 * socket (`<data dir>/router/admin.sock`, reachable from any network namespace).
 */
export function routerServers(p: RunningPlatform, app: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(join(p.dataDir, 'router', 'admin.sock'));
    let text = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (b: Buffer) => (text += b.toString()));
    socket.on('error', (e) => resolve(`(router's runtime API: ${e.message})`));
    socket.on('end', () => resolve(text.trimEnd()));
    // The backend's name as router/src/haproxy/render-config.ts `backendOf` makes it (apps, tests among them,
    // do not import from the router app).
    socket.end(`show servers state app_${app}\n`);
  });
}
