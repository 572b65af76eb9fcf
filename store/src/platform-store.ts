import type { Redis } from 'ioredis';
import type { BackendSettings } from '@sidecar/core';
import type { Keys } from './keys.js';

/** A worker heartbeat older than this means no worker runs. */
const HEARTBEAT_TTL_SECONDS = 15;

/** Platform-wide facts one process publishes and others read: the backend's settings, the worker's heartbeat. */
export class PlatformStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async publishBackend(settings: BackendSettings): Promise<void> {
    await this.redis.set(this.k.backendSettings, JSON.stringify(settings));
  }

  /** What the worker's backend applies; undefined before any worker has started. */
  async backend(): Promise<BackendSettings | undefined> {
    const raw = await this.redis.get(this.k.backendSettings);
    return raw ? (JSON.parse(raw) as BackendSettings) : undefined;
  }

  async beat(at = new Date()): Promise<void> {
    await this.redis.set(this.k.workerHeartbeat, at.toISOString(), 'EX', HEARTBEAT_TTL_SECONDS);
  }

  /** The last worker heartbeat (ISO time), or undefined when no worker beat recently. */
  async lastBeat(): Promise<string | undefined> {
    return (await this.redis.get(this.k.workerHeartbeat)) ?? undefined;
  }

  /** Round trip to Redis (readiness). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
