import { join, resolve } from 'node:path';
import { errorText, exitWithParent, loadConfig, tenantLimitsOf } from '@sidecar/core';
import { createLogger, exitOnUnhandled } from '@sidecar/platform-process';
import { connectRedis, createStores, FsBlobStore, loadSecretBox, PlatformCa } from '@sidecar/store';
import { DeployQueues } from '@sidecar/store/queues';
import { createApp } from './app.js';
import { gitSettingsFrom } from './git/index.js';

async function main(): Promise<void> {
  const config = loadConfig('api', process.env);
  const log = createLogger('api', { format: config.SIDECAR_LOG_FORMAT, level: config.SIDECAR_LOG_LEVEL });
  exitOnUnhandled(log);
  const redisWarn = (message: string) => log.warn(message);
  const redis = connectRedis(config.SIDECAR_REDIS_URL, {}, redisWarn);
  const secrets = await loadSecretBox({ env: config.SIDECAR_SECRETS_KEYS, dataDir: config.SIDECAR_DATA_DIR });
  const stores = createStores(redis, config.SIDECAR_REDIS_PREFIX, secrets);
  await stores.tokens.ensureAdmin(config.SIDECAR_ADMIN_TOKEN);
  const queues = new DeployQueues(redis, config.SIDECAR_REDIS_PREFIX);
  // Created here or by the worker, whichever starts first (docs/sidecars.md).
  const ca = await PlatformCa.load(config.SIDECAR_DATA_DIR, { appsDomain: config.SIDECAR_APPS_DOMAIN });
  const port = config.SIDECAR_ROUTER_PORT === 80 ? '' : `:${config.SIDECAR_ROUTER_PORT}`;
  const app = createApp({
    stores,
    queues,
    blobs: new FsBlobStore(join(config.SIDECAR_DATA_DIR, 'bundles')),
    maxBundleBytes: config.SIDECAR_MAX_BUNDLE_BYTES,
    urlFor: (name) => `http://${name}.${config.SIDECAR_APPS_DOMAIN}${port}/`,
    webDist: config.SIDECAR_WEB_DIST ?? resolve(import.meta.dirname, '../../web/dist'),
    logger: log,
    caCertPem: ca.certPem,
    supervisorFile: join(config.SIDECAR_DATA_DIR, 'supervisor.json'),
    git: gitSettingsFrom(config),
    limits: tenantLimitsOf(config),
  });
  const server = app.listen(config.SIDECAR_API_PORT, config.SIDECAR_API_HOST);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  log.info({ ready: true }, `listening on http://${config.SIDECAR_API_HOST}:${config.SIDECAR_API_PORT}`);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const forced = setTimeout(() => process.exit(1), 10_000).unref();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Log followers hold connections open; end them so close() can finish.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      await queues.close();
      await stores.close();
      await redis.quit().catch(() => undefined);
      clearTimeout(forced);
    })());
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void close().then(() => process.exit(0)));
  exitWithParent(process.env, () => void close().then(() => process.exit(0)));
}

main().catch((e: unknown) => {
  process.stderr.write(`api: ${errorText(e)}\n`);
  process.exit(1);
});
