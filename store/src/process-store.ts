import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/** One process of a pod's runtime container, as the procinfo sidecar saw it. */
export interface ProcessInfo {
  pid: number;
  command: string;
  cpuPercent: number;
  memoryBytes: number;
}
export interface ProcessSnapshot {
  pod: string;
  time: string;
  items: ProcessInfo[];
}

/** A snapshot older than this is gone (its pod stopped, or the worker stopped collecting). */
const TTL_SECONDS = 30;

/** The worker publishes procinfo snapshots here per pod; the API reads them (it never talks to Docker). */
export class ProcessStore {
  constructor(
    private readonly redis: Redis,
    private readonly k: Keys,
  ) {}

  async put(app: string, snapshot: ProcessSnapshot): Promise<void> {
    await this.redis.set(this.k.podProcesses(app, snapshot.pod), JSON.stringify(snapshot), 'EX', TTL_SECONDS);
  }

  async get(app: string, pod: string): Promise<ProcessSnapshot | undefined> {
    const raw = await this.redis.get(this.k.podProcesses(app, pod));
    return raw ? (JSON.parse(raw) as ProcessSnapshot) : undefined;
  }
}
