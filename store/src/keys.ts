/**
 * Every Redis key the platform uses, in one place. A prefix isolates one
 * platform (or one test) from another sharing the same Redis.
 */
export function keys(prefix: string) {
  const k = (s: string) => `${prefix}${s}`;
  return {
    apps: k('apps'),
    app: (name: string) => k(`app:${name}`),
    appDeploys: (name: string) => k(`app:${name}:deploys`),
    appReleases: (name: string) => k(`app:${name}:releases`),
    releaseSeq: (name: string) => k(`app:${name}:release-seq`),
    appPods: (name: string) => k(`app:${name}:pods`),
    podProcesses: (app: string, pod: string) => k(`app:${app}:pod:${pod}:processes`),
    appLogs: (name: string) => k(`app:${name}:logs`),
    /** One hash per app and 10-second bucket of its traffic through the routers (core/src/traffic-metrics.ts). */
    appTraffic: (name: string, bucketSec: number) => k(`app:${name}:traffic:${bucketSec}`),
    deploy: (id: string) => k(`deploy:${id}`),
    job: (id: string) => k(`job:${id}`),
    appJobs: (name: string) => k(`app:${name}:jobs`),
    /** The app's jobs that have not ended (pending or running): its quota, SIDECAR_MAX_JOBS_PER_APP. */
    appActiveJobs: (name: string) => k(`app:${name}:jobs:active`),
    deployLog: (id: string) => k(`deploy:${id}:log`),
    deployCancel: (id: string) => k(`deploy:${id}:cancel`),
    appLock: (name: string) => k(`lock:app:${name}`),
    tokens: k('tokens'),
    /** The apps a token created (its quota, SIDECAR_MAX_APPS_PER_TOKEN), by token id. */
    tokenApps: (tokenId: string) => k(`token:${tokenId}:apps`),
    /** app → the id of the token that created it. */
    appOwners: k('app-owners'),
    routes: k('routes'),
    routesVersion: k('routes:version'),
    routesChannel: k('routes:changed'),
    routers: k('routers'),
    /** app → when it last had traffic (ms), written by the routers for scale to zero. */
    activity: k('activity'),
    /** app → the names of its suspended pods (JSON), while it is scaled to zero. */
    suspendedPods: k('apps:suspended-pods'),
    /** A router asks the worker to wake a suspended app (the message is the app's name). */
    wakeChannel: k('apps:wake'),
    cancelChannel: k('deploys:cancel'),
    workerHeartbeat: k('worker:heartbeat'),
    /** The worker's BackendSettings (JSON), written at its start. */
    backendSettings: k('platform:backend'),
  };
}
export type Keys = ReturnType<typeof keys>;
