import { errorText, exitWithParent, loadConfig } from '@sidecar/core';
import { createLogger, exitOnUnhandled } from '@sidecar/platform-process';
import { startRouter } from './router.js';

/** The router is its own process so that restarting the API never drops app traffic. */
async function main(): Promise<void> {
  const config = loadConfig('router', process.env);
  const log = createLogger('router', { format: config.SIDECAR_LOG_FORMAT, level: config.SIDECAR_LOG_LEVEL });
  exitOnUnhandled(log);
  const router = await startRouter(config, { log });
  log.info(
    `TLS passthrough on ${config.SIDECAR_ROUTER_HOST}:${router.tlsPort} for *.${config.SIDECAR_APPS_DOMAIN} (apps with the tls sidecar)`,
  );
  log.info(`metrics on http://127.0.0.1:${router.metricsPort}/metrics (admin token)`);
  log.info(
    { ready: true },
    `listening on http://${config.SIDECAR_ROUTER_HOST}:${config.SIDECAR_ROUTER_PORT} for *.${config.SIDECAR_APPS_DOMAIN} (HAProxy)`,
  );
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const forced = setTimeout(() => process.exit(1), 10_000).unref();
      await router.close();
      clearTimeout(forced);
    })());
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void close().then(() => process.exit(0)));
  exitWithParent(process.env, () => void close().then(() => process.exit(0)));
}

main().catch((e: unknown) => {
  process.stderr.write(`router: ${errorText(e)}\n`);
  process.exit(1);
});
