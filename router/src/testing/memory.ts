import { readFileSync } from 'node:fs';
import type { RuntimeApi } from '../haproxy/runtime-api.js';

/** Resident memory of HAProxy's current worker, in bytes (from /proc). */
export async function dataPlaneRss(api: RuntimeApi): Promise<number> {
  const pid = await api.workerPid();
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}
