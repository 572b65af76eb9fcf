import { Redis, type RedisOptions } from 'ioredis';
import { AppLogStore } from './app-log.js';
import { AppStore } from './app-store.js';
import type { SecretBox } from './secret-box.js';
import { CasUpdater } from './cas.js';
import { DeployLog } from './deploy-log.js';
import { DeployStore } from './deploy-store.js';
import { JobStore } from './job-store.js';
import { keys } from './keys.js';
import { RedisLock } from './lock.js';
import { PlatformStore } from './platform-store.js';
import { PodViewStore } from './pod-view-store.js';
import { ProcessStore } from './process-store.js';
import { ReleaseStore } from './release-store.js';
import { RedisRouteTable } from './route-table.js';
import { StreamHub } from './stream-hub.js';
import { TokenStore } from './token-store.js';

export * from './app-log.js';
export * from './app-store.js';
export * from './blob-store.js';
export * from './deploy-log.js';
export * from './deploy-store.js';
export * from './job-store.js';
export * from './keys.js';
export * from './lock.js';
export * from './platform-ca.js';
export * from './platform-store.js';
export * from './pod-view-store.js';
export * from './process-store.js';
export * from './release-store.js';
export * from './route-table.js';
export * from './secret-box.js';
export * from './stream-hub.js';
export * from './token-store.js';

export interface Stores {
  redis: Redis;
  keys: ReturnType<typeof keys>;
  apps: AppStore;
  appLogs: AppLogStore;
  deploys: DeployStore;
  jobs: JobStore;
  deployLog: DeployLog;
  releases: ReleaseStore;
  tokens: TokenStore;
  routes: RedisRouteTable;
  pods: PodViewStore;
  processes: ProcessStore;
  platform: PlatformStore;
  /** One rollout (or removal) of an app at a time, across workers; one deploying git push per app, across API processes. */
  locks: { app(name: string): RedisLock; gitPush(app: string): RedisLock };
  /** Closes the stores' own connections (not `redis`, which the caller owns). */
  close(): Promise<void>;
}

/**
 * Wires every store onto one connection; `prefix` isolates platforms (and tests) sharing a Redis.
 * `secrets` seals app secrets at rest; processes that read or write apps must pass it.
 */
export function createStores(
  redis: Redis,
  prefix = 'sidecar:',
  secrets?: SecretBox,
  opts: { appLogMaxAgeMs?: number } = {},
): Stores {
  const k = keys(prefix);
  const cas = new CasUpdater(redis.duplicate());
  const hub = new StreamHub(redis);
  return {
    redis,
    keys: k,
    apps: new AppStore(redis, k, cas, secrets),
    appLogs: new AppLogStore(redis, k, hub, opts.appLogMaxAgeMs),
    deploys: new DeployStore(redis, k, cas),
    jobs: new JobStore(redis, k),
    deployLog: new DeployLog(redis, k, hub),
    releases: new ReleaseStore(redis, k),
    tokens: new TokenStore(redis, k),
    routes: new RedisRouteTable(redis, k),
    pods: new PodViewStore(redis, k),
    processes: new ProcessStore(redis, k),
    platform: new PlatformStore(redis, k),
    locks: {
      app: (name) => new RedisLock(redis, k.appLock(name)),
      gitPush: (app) => new RedisLock(redis, `${k.appLock(app)}:git-push`),
    },
    close: async () => {
      await Promise.allSettled([hub.close(), cas.close()]);
    },
  };
}

/** How long a command may wait for Redis before it fails (a frozen Redis must not hang requests). */
export const COMMAND_TIMEOUT_MS = 1500;

/**
 * A connection for the stores: a command fails fast when Redis is down (one reconnect attempt) or
 * frozen (COMMAND_TIMEOUT_MS), so the API answers 503 `store_unavailable` instead of hanging;
 * ioredis keeps reconnecting in the background and later commands succeed once Redis is back.
 */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    lazyConnect: false,
    ...options,
  });
  // ioredis reconnects by itself; a connection error is worth one line, not an "unhandled error" dump.
  redis.on('error', (e: Error) => console.error(`redis: ${e.message}`));
  return redis;
}

/**
 * A connection for BullMQ's workers, which block on Redis and retry on their own: BullMQ requires
 * `maxRetriesPerRequest: null`, and a blocking command must have no timeout.
 */
export function connectQueueRedis(url: string): Redis {
  return connectRedis(url, { maxRetriesPerRequest: null, commandTimeout: undefined });
}

/** Whether an error means the store (Redis) is unreachable or not answering, rather than a bad request. */
export function isStoreUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    e.name === 'MaxRetriesPerRequestError' ||
    /Command timed out|Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|LOADING/.test(e.message)
  );
}

/**
 * A connection for SUBSCRIBE only. The ready check (INFO) is off: after a reconnect ioredis
 * would send it on a connection that is back in subscriber mode, where Redis refuses it.
 */
export function connectSubscriber(url: string): Redis {
  return connectRedis(url, { enableReadyCheck: false, maxRetriesPerRequest: null, commandTimeout: undefined });
}
export * from './queues.js';
