import type { Sidecars } from './app.js';
import type { Container, SecurityContext } from './k8s-types.js';

/**
 * Platform sidecars: generic images (never built per app) that the pod template
 * adds after the logic sidecar when an app's `sidecars` settings ask for them.
 * Their order is fixed: `tls`, then `procinfo`. Their interface (ports, env,
 * paths) is documented in docs/sidecars.md.
 */
export const PlatformSidecar = { tls: 'tls', procinfo: 'procinfo' } as const;
export type PlatformSidecar = (typeof PlatformSidecar)[keyof typeof PlatformSidecar];

/** The fixed start order of platform sidecars (after the logic sidecar `app`, before the runtime). */
export const PLATFORM_SIDECAR_ORDER: readonly PlatformSidecar[] = [PlatformSidecar.tls, PlatformSidecar.procinfo];

/** The TLS terminator: HTTPS on TLS_PORT inside the pod, forwarded to the runtime on 127.0.0.1:8080. */
export const TLS_PORT = 8443;
export const TLS_ENV = { cert: 'SIDECAR_TLS_CERT', key: 'SIDECAR_TLS_KEY', listenPort: 'SIDECAR_TLS_PORT', upstreamPort: 'SIDECAR_TLS_UPSTREAM_PORT' } as const;

/** What `procinfo` runs for one snapshot (the worker execs it; see worker/src/process-insight.ts). */
export const PROCINFO_SNAPSHOT_COMMAND = ['/bin/sh', '/sidecar/procinfo.sh', 'snapshot'] as const;

/** Small, fixed limits: these images do one thing each. */
export const PLATFORM_SIDECAR_LIMITS = {
  tls: { memory: '64Mi', cpu: '200m' },
  procinfo: { memory: '16Mi', cpu: '50m' },
} as const satisfies Record<PlatformSidecar, { memory: string; cpu: string }>;

export interface PlatformSidecarImages { tls: string; procinfo: string }
export interface TlsMaterial { cert: string; key: string }

/** What the target supplies to render platform sidecars: their images and, for `tls`, the app's certificate. */
export interface PlatformSidecarInput {
  images: PlatformSidecarImages;
  /** Required when the app enables `tls`. */
  tls?: TlsMaterial;
}

export const isPlatformSidecar = (name: string): name is PlatformSidecar => (PLATFORM_SIDECAR_ORDER as readonly string[]).includes(name);

/** The platform sidecars an app's settings enable, in the fixed order. */
export function enabledSidecars(settings: Sidecars | undefined): PlatformSidecar[] {
  if (!settings) return [];
  return PLATFORM_SIDECAR_ORDER.filter((s) => (s === PlatformSidecar.tls ? settings.tls.enabled : settings.procinfo));
}

/**
 * The platform sidecar containers for an app, in the fixed order, each a native
 * sidecar with limits and the same restricted securityContext as the app's own
 * containers. The TLS key reaches the sidecar as an env value: the Docker target
 * strips env values from the pod spec it stores in labels, and the sidecar never prints it.
 */
export function renderPlatformSidecars(o: {
  settings: Sidecars | undefined;
  input: PlatformSidecarInput | undefined;
  securityContext: SecurityContext;
  probePeriodSeconds: number;
}): Container[] {
  const { input, securityContext } = o;
  const wanted = enabledSidecars(o.settings);
  if (wanted.length === 0) return [];
  if (!input) throw new Error(`platform sidecars ${wanted.join(', ')} are enabled but the target supplies no sidecar images`);
  return wanted.map((name): Container => {
    const base = { name, restartPolicy: 'Always', resources: { limits: { ...PLATFORM_SIDECAR_LIMITS[name] } }, securityContext } as const;
    if (name === PlatformSidecar.procinfo) return { ...base, image: input.images.procinfo };
    if (!input.tls) throw new Error('the tls sidecar is enabled but no certificate was supplied');
    return {
      ...base,
      image: input.images.tls,
      env: [
        { name: TLS_ENV.cert, value: input.tls.cert },
        { name: TLS_ENV.key, value: input.tls.key },
        { name: TLS_ENV.listenPort, value: String(TLS_PORT) },
      ],
      // Declared so the Docker target publishes it on the pause container, like 8080.
      ports: [{ containerPort: TLS_PORT, name: 'https', protocol: 'TCP' }],
      // Started = listening, so a new pod takes HTTPS traffic only once it can serve it.
      startupProbe: { tcpSocket: { port: TLS_PORT }, periodSeconds: o.probePeriodSeconds, failureThreshold: 30, successThreshold: 1 },
    };
  });
}
