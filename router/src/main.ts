import { errorText, exitWithParent, loadConfig } from '@sidecar/core';
import { createLogger, exitOnUnhandled } from '@sidecar/platform-process';
import http from 'node:http';
import { connectRedis, connectSubscriber, createStores } from '@sidecar/store';
import { createProxy } from './proxy.js';
import { RouteCache } from './route-cache.js';
import { createTlsPassthrough } from './tls-passthrough.js';

/** The router is its own process so that restarting the API never drops app traffic. */
async function main(): Promise<void> {
  const config = loadConfig('router', process.env);
  const log = createLogger('router', { format: config.SIDECAR_LOG_FORMAT, level: config.SIDECAR_LOG_LEVEL });
  exitOnUnhandled(log);
  const redisWarn = (message: string) => log.warn(message);
  const redis = connectRedis(config.SIDECAR_REDIS_URL, {}, redisWarn);
  const subscriber = connectSubscriber(config.SIDECAR_REDIS_URL, redisWarn);
  const stores = createStores(redis, config.SIDECAR_REDIS_PREFIX);
  const cache = new RouteCache(stores.routes, subscriber, stores.keys);
  await cache.start();

  const server = http.createServer(createProxy({ routes: cache, domain: config.SIDECAR_APPS_DOMAIN }));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.SIDECAR_ROUTER_PORT, config.SIDECAR_ROUTER_HOST, resolve));
  const tlsServer = createTlsPassthrough({ routes: cache, domain: config.SIDECAR_APPS_DOMAIN });
  await new Promise<void>((resolve, reject) =>
    tlsServer.once('error', reject).listen(config.SIDECAR_ROUTER_TLS_PORT, config.SIDECAR_ROUTER_HOST, resolve),
  );
  log.info(
    `TLS passthrough on ${config.SIDECAR_ROUTER_HOST}:${config.SIDECAR_ROUTER_TLS_PORT} for *.${config.SIDECAR_APPS_DOMAIN} (apps with the tls sidecar)`,
  );
  log.info(
    { ready: true },
    `listening on http://${config.SIDECAR_ROUTER_HOST}:${config.SIDECAR_ROUTER_PORT} for *.${config.SIDECAR_APPS_DOMAIN}`,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const forced = setTimeout(() => process.exit(1), 10_000).unref();
      server.close();
      server.closeIdleConnections();
      tlsServer.close();
      await cache.close();
      await stores.close();
      await Promise.allSettled([redis.quit(), subscriber.quit()]);
      clearTimeout(forced);
    })());
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void close().then(() => process.exit(0)));
  exitWithParent(process.env, () => void close().then(() => process.exit(0)));
}

main().catch((e: unknown) => {
  process.stderr.write(`router: ${errorText(e)}\n`);
  process.exit(1);
});
