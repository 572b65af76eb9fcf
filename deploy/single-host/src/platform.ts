import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorText, loadConfig } from '@sidecar/core';
import { createLogger, exitOnUnhandled, stopLeftDataPlane } from '@sidecar/platform-process';
import { adminToken } from './admin-token.js';
import { Child, describeExit, type ChildSpec, type ChildState } from './child.js';
import { ChildLines } from './child-lines.js';
import { startEmbeddedRedis } from './embedded-redis.js';
import { freePort } from './free-port.js';
import { ensureImagesInChild } from './platform-images.js';
import { SupervisorFile } from './supervisor-file.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
type ProcessName = 'api' | 'router' | 'worker';

/**
 * Node flags per child. V8 grows the young generation to three 16 MiB semi-spaces in a busy moment (start-up
 * loads every module) and keeps them resident: 1 MiB semi-spaces cost the API more frequent, shorter
 * scavenges and keep about 25 MiB less while idle (docs/benchmarks.md, density). The router and the worker
 * keep V8's default: they parse a line per request (the router's request log) and per line every app
 * prints (the worker's log collector), where small semi-spaces would promote short-lived objects early.
 */
const NODE_FLAGS: Record<ProcessName, string[]> = {
  api: ['--max-semi-space-size=1'],
  router: [],
  worker: [],
};

/**
 * The single-host platform in one foreground process: embedded Redis, then the API, the router and the
 * worker as supervised child processes (restarted with back-off, given up on after a crash loop, their
 * state in `<data dir>/supervisor.json` for /readyz and /metrics). Ctrl-C stops the router and the API,
 * then the worker, then Redis; app containers keep running and are adopted on the next start.
 */
async function main(): Promise<void> {
  const env = process.env;
  const config = loadConfig('launcher', env);
  const log = createLogger('launcher', { format: config.SIDECAR_LOG_FORMAT, level: config.SIDECAR_LOG_LEVEL });
  exitOnUnhandled(log);
  const lines = new ChildLines(log, config.SIDECAR_LOG_FORMAT);
  const dataDir = resolve(config.SIDECAR_DATA_DIR ?? join(root, '.sidecar'));
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const apiPort = config.SIDECAR_API_PORT;
  const routerPort = config.SIDECAR_ROUTER_PORT;
  const domain = config.SIDECAR_APPS_DOMAIN;
  const { token, file: tokenFile } = await adminToken(dataDir, config.SIDECAR_ADMIN_TOKEN);
  const supervisor = new SupervisorFile(dataDir);

  const images = await ensureImagesInChild({
    root,
    dockerSocket: config.SIDECAR_DOCKER_SOCKET,
    log: (l) => log.info({ step: 'images' }, l),
  });

  let shutdown: (why: string, code: number) => Promise<void> = () => Promise.resolve();
  const ready = { api: false, router: false, worker: false };
  const report = (name: string, onReady?: () => void): Pick<ChildSpec, 'onLines' | 'onState' | 'onGiveUp'> => ({
    onLines: (text, stream) => {
      if (lines.show(name, text, stream).ready) onReady?.();
    },
    onState: (state: ChildState) => {
      supervisor.set(state);
      if (state.status === 'restarting' && state.lastExit) {
        log.warn(
          { child: name, restarts: state.restarts },
          `${name} exited (${describeExit(state.lastExit)}); restarting`,
        );
      }
    },
    onGiveUp: (state: ChildState) => {
      const why = state.lastExit ? describeExit(state.lastExit) : 'unknown';
      log.fatal({ child: name }, `${name} keeps crashing (last: ${why}); giving up and stopping the platform`);
      void shutdown(`${name} crash loop`, 1);
    },
  });

  let redis: Child | undefined;
  let redisUrl = config.SIDECAR_REDIS_URL;
  if (!redisUrl) {
    const embedded = await startEmbeddedRedis({
      dataDir,
      port: config.SIDECAR_EMBEDDED_REDIS_PORT ?? (await freePort()),
      maxMemory: config.SIDECAR_REDIS_MAX_MEMORY,
      report: report('redis'),
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
    // Children log JSON lines; the launcher shows them (readable on a terminal).
    SIDECAR_LOG_FORMAT: 'json',
    // An operator may pin any of them (e.g. a tested newer runtime); new releases use it.
    SIDECAR_PAUSE_IMAGE: config.SIDECAR_PAUSE_IMAGE ?? images.pause,
    SIDECAR_LOGIC_BASE_IMAGE: config.SIDECAR_LOGIC_BASE_IMAGE ?? images.logicBase,
    SIDECAR_RUNTIME_IMAGE: config.SIDECAR_RUNTIME_IMAGE ?? images.runtimeNode,
    SIDECAR_BUILDER_IMAGE: config.SIDECAR_BUILDER_IMAGE ?? images.builderNode,
    SIDECAR_TLS_TERMINATOR_IMAGE: config.SIDECAR_TLS_TERMINATOR_IMAGE ?? images.tlsTerminator,
    SIDECAR_PROCINFO_IMAGE: config.SIDECAR_PROCINFO_IMAGE ?? images.procinfo,
    SIDECAR_LOG_SHIPPER_IMAGE: config.SIDECAR_LOG_SHIPPER_IMAGE ?? images.logShipper,
  };
  let announced = false;
  const announce = () => {
    if (announced || !ready.api || !ready.router || !ready.worker) return;
    announced = true;
    const token = tokenFile ? `< ${tokenFile}` : '<<< "$SIDECAR_ADMIN_TOKEN"';
    const api = `http://127.0.0.1:${apiPort}`;
    // The user-facing banner of `npm start` (plain lines; test harnesses wait for the first).
    process.stdout.write(
      [
        `sidecar: ready — API ${api}, apps at http://<app>.${domain}:${routerPort}/`,
        `sidecar: admin token ${tokenFile ? `in ${tokenFile}` : 'from SIDECAR_ADMIN_TOKEN'}`,
        // The README's first deploy: the deploy command returns once the new release serves.
        `sidecar: try it: npx sidecar login --api ${api} --token-stdin ${token} && npx sidecar deploy ${join(root, 'examples/hello')} -a hello && curl -sH 'Host: hello.${domain}' http://127.0.0.1:${routerPort}/`,
        '',
      ].join('\n'),
    );
  };
  const proc = (name: ProcessName) =>
    new Child({
      name,
      command: process.execPath,
      args: [...NODE_FLAGS[name], join(root, `${name}/dist/main.js`)],
      env: childEnv,
      supervisedByPipe: true,
      ...report(name, () => {
        ready[name] = true;
        announce();
      }),
    });
  const children = { api: proc('api'), router: proc('router'), worker: proc('worker') };
  for (const c of Object.values(children)) c.start();

  let closing: Promise<void> | undefined;
  shutdown = (why, code) =>
    (closing ??= (async () => {
      log.info(`${why}: stopping (apps keep running and are adopted on the next start)`);
      // Traffic first: no new requests reach a worker or a Redis that is going away.
      await Promise.allSettled([children.router.stop(), children.api.stop()]);
      // A router stops its HAProxy; one that is gone (given up on, killed) left it serving for its successor.
      await stopLeftDataPlane(dataDir).catch((e: unknown) =>
        log.error({ err: e }, `the router's HAProxy could not be stopped: ${errorText(e)}`),
      );
      await children.worker.stop();
      await redis?.stop();
      await supervisor.flush();
      log.info('stopped');
      process.exit(code);
    })());
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
}

main().catch((e: unknown) => {
  process.stderr.write(`sidecar: ${errorText(e)}\n`);
  process.exit(1);
});
