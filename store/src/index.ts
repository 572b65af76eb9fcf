import { Redis, type RedisOptions } from 'ioredis';
import type { Log } from '@sidecar/core';
import { AppActivity } from './app-activity.js';
import { AppLogStore } from './app-log.js';
import { AppTrafficStore } from './app-traffic.js';
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

export * from './app-activity.js';
export * from './app-log.js';
export * from './app-store.js';
export * from './app-traffic.js';
export * from './blob-store.js';
export * from './deploy-log.js';
export * from './deploy-store.js';
export * from './job-store.js';
export * from './ids.js';
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
  appTraffic: AppTrafficStore;
  activity: AppActivity;
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
  opts: { appLogMaxAgeMs?: number; log?: Log } = {},
): Stores {
  const k = keys(prefix);
  const cas = new CasUpdater(redis.duplicate());
  const hub = new StreamHub(redis);
  return {
    redis,
    keys: k,
    apps: new AppStore(redis, k, cas, secrets),
    appLogs: new AppLogStore(redis, k, hub, opts.appLogMaxAgeMs),
    appTraffic: new AppTrafficStore(redis, k),
    activity: new AppActivity(redis, k),
    deploys: new DeployStore(redis, k, cas),
    jobs: new JobStore(redis, k),
    deployLog: new DeployLog(redis, k, hub),
    releases: new ReleaseStore(redis, k),
    tokens: new TokenStore(redis, k),
    routes: new RedisRouteTable(redis, k, undefined, opts.log),
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

/** Where a connection reports that Redis is unreachable (a process passes its logger). */
export type RedisErrorSink = (message: string) => void;

/**
 * Reports connection errors of `redis` and of every connection duplicated from it, once per distinct
 * message and then at most every 10 s while it lasts, so an outage is a few log lines, not hundreds
 * (and never ioredis's "Unhandled error event" dump).
 */
function reportErrors(redis: Redis, sink: RedisErrorSink): Redis {
  let last = '';
  let lastAt = 0;
  redis.on('error', (e: Error) => {
    const now = Date.now();
    if (e.message === last && now - lastAt < 10_000) return;
    last = e.message;
    lastAt = now;
    sink(`redis: ${e.message}`);
  });
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (override?: Partial<RedisOptions>) => reportErrors(duplicate(override), sink);
  return redis;
}

/**
 * A connection for the stores: a command fails fast when Redis is down (one reconnect attempt) or
 * frozen (COMMAND_TIMEOUT_MS), so the API answers 503 `store_unavailable` instead of hanging;
 * ioredis keeps reconnecting in the background and later commands succeed once Redis is back.
 */
export function connectRedis(
  url: string,
  options: RedisOptions = {},
  onError: RedisErrorSink = (m) => process.stderr.write(`${m}\n`),
): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    lazyConnect: false,
    ...options,
  });
  return reportErrors(redis, onError);
}

/**
 * A connection for BullMQ's workers, which block on Redis and retry on their own: BullMQ requires
 * `maxRetriesPerRequest: null`, and a blocking command must have no timeout.
 */
export function connectQueueRedis(url: string, onError?: RedisErrorSink): Redis {
  return connectRedis(url, { maxRetriesPerRequest: null, commandTimeout: undefined }, onError);
}

/** Whether an error means the store (Redis) is unreachable or not answering, rather than a bad request. */
export function isStoreUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    e.name === 'MaxRetriesPerRequestError' ||
    /Command timed out|Connection is closed|ECONNREFUSED|ECONNRESET|Stream isn't writeable|LOADING|^OOM /.test(
      e.message,
    )
  );
}

/**
 * Whether Redis refuses writes because it cannot persist them (`MISCONF`: its append-only file could not
 * be written, e.g. the disk is full), also inside a transaction (`EXECABORT`, ioredis's previousErrors).
 * Redis accepts writes again by itself once a write of its AOF succeeds.
 */
export function isStoreOutOfDisk(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.message.startsWith('MISCONF ')) return true;
  const previous = (e as { previousErrors?: unknown }).previousErrors;
  return e.message.startsWith('EXECABORT') && Array.isArray(previous) && previous.some(isStoreOutOfDisk);
}

/**
 * A connection for SUBSCRIBE only. The ready check (INFO) is off: after a reconnect ioredis
 * would send it on a connection that is back in subscriber mode, where Redis refuses it.
 */
export function connectSubscriber(url: string, onError?: RedisErrorSink): Redis {
  return connectRedis(url, { enableReadyCheck: false, maxRetriesPerRequest: null, commandTimeout: undefined }, onError);
}
