import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { loadConfig } from '@sidecar/core';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { adminToken } from './admin-token.js';
import { Child } from './child.js';
import { startEmbeddedRedis } from './embedded-redis.js';
import { freePort } from './free-port.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The single-host platform in one foreground process: embedded Redis, then the
 * API, the router and the worker as supervised child processes. Ctrl-C stops
 * them in order; app containers keep running and are adopted on the next start.
 */
async function main(): Promise<void> {
  const env = process.env;
  const config = loadConfig('launcher', env);
  const dataDir = resolve(config.SIDECAR_DATA_DIR ?? join(root, '.sidecar'));
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const apiPort = config.SIDECAR_API_PORT;
  const routerPort = config.SIDECAR_ROUTER_PORT;
  const domain = config.SIDECAR_APPS_DOMAIN;
  const { token, file: tokenFile } = await adminToken(dataDir, config.SIDECAR_ADMIN_TOKEN);

  const images = await ensurePlatformImages({
    docker: new Docker({ socketPath: config.SIDECAR_DOCKER_SOCKET }),
    log: (l) => console.log(`[images] ${l}`),
  });

  let redis: Child | undefined;
  let redisUrl = config.SIDECAR_REDIS_URL;
  if (!redisUrl) {
    const embedded = await startEmbeddedRedis({
      dataDir,
      port: config.SIDECAR_EMBEDDED_REDIS_PORT ?? (await freePort()),
    });
    redis = embedded.child;
    redisUrl = embedded.url;
  }

  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    SIDECAR_DATA_DIR: dataDir,
    SIDECAR_REDIS_URL: redisUrl,
    SIDECAR_ADMIN_TOKEN: token,
    SIDECAR_API_PORT: String(apiPort),
    SIDECAR_ROUTER_PORT: String(routerPort),
    SIDECAR_APPS_DOMAIN: domain,
    // An operator may pin any of them (e.g. a tested newer runtime); new releases use it.
    SIDECAR_PAUSE_IMAGE: config.SIDECAR_PAUSE_IMAGE ?? images.pause,
    SIDECAR_LOGIC_BASE_IMAGE: config.SIDECAR_LOGIC_BASE_IMAGE ?? images.logicBase,
    SIDECAR_RUNTIME_IMAGE: config.SIDECAR_RUNTIME_IMAGE ?? images.runtimeNode,
    SIDECAR_BUILDER_IMAGE: config.SIDECAR_BUILDER_IMAGE ?? images.builderNode,
    SIDECAR_TLS_TERMINATOR_IMAGE: config.SIDECAR_TLS_TERMINATOR_IMAGE ?? images.tlsTerminator,
    SIDECAR_PROCINFO_IMAGE: config.SIDECAR_PROCINFO_IMAGE ?? images.procinfo,
    SIDECAR_LOG_SHIPPER_IMAGE: config.SIDECAR_LOG_SHIPPER_IMAGE ?? images.logShipper,
  };
  const ready = { api: false, router: false, worker: false };
  let announced = false;
  const announce = () => {
    if (announced || !ready.api || !ready.router || !ready.worker) return;
    announced = true;
    const auth = tokenFile
      ? `"Authorization: Bearer $(cat ${tokenFile})"`
      : '"Authorization: Bearer $SIDECAR_ADMIN_TOKEN"';
    const api = `http://127.0.0.1:${apiPort}`;
    console.log(`sidecar: ready — API ${api}, apps at http://<app>.${domain}:${routerPort}/`);
    console.log(`sidecar: admin token ${tokenFile ? `in ${tokenFile}` : 'from SIDECAR_ADMIN_TOKEN'}`);
    console.log(
      `sidecar: try it: curl -sH ${auth} -H 'content-type: application/json' -d '{"name":"hello"}' ${api}/api/v1/apps && tar -C ${join(root, 'examples/hello')} -cz . | curl -sH ${auth} -H 'content-type: application/gzip' --data-binary @- ${api}/api/v1/apps/hello/deploys && sleep 3 && curl -sH 'Host: hello.${domain}' http://127.0.0.1:${routerPort}/`,
    );
  };
  const node = process.execPath;
  const proc = (name: keyof typeof ready, main: string, marker: RegExp) =>
    new Child({
      name,
      command: node,
      args: [join(root, main)],
      env: childEnv,
      restart: true,
      supervisedByPipe: true,
      onLine: (line) => {
        if (marker.test(line)) {
          ready[name] = true;
          announce();
        }
      },
    });
  const children = {
    api: proc('api', 'api/dist/main.js', /^api: listening/),
    router: proc('router', 'router/dist/main.js', /^router: listening/),
    worker: proc('worker', 'worker/dist/main.js', /^worker: ready/),
  };
  for (const c of Object.values(children)) c.start();
  const writePids = () =>
    writeFile(
      join(dataDir, 'pids.json'),
      JSON.stringify(Object.fromEntries(Object.entries(children).map(([k, c]) => [k, c.pid]))),
    );
  await writePids();
  const pidTimer = setInterval(() => void writePids(), 1000);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    clearInterval(pidTimer);
    console.log(`sidecar: ${signal}: stopping (apps keep running and are adopted on the next start)`);
    await Promise.allSettled(Object.values(children).map((c) => c.stop()));
    await redis?.stop();
    console.log('sidecar: stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(`sidecar: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
