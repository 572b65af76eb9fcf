import type { Upstream } from '@sidecar/core';

export interface UpstreamPicker {
  lookup(app: string): Upstream[] | undefined;
}

/** `hello.localhost:8080` → `hello`; anything not under the apps domain → undefined. */
export function appFromHost(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const suffix = `.${domain.toLowerCase()}`;
  if (!name.endsWith(suffix)) return undefined;
  const app = name.slice(0, -suffix.length);
  return /^[a-z0-9-]+$/.test(app) ? app : undefined;
}
