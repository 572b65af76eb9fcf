export const DeployStatus = {
  queued: 'queued',
  building: 'building',
  deploying: 'deploying',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type DeployStatus = (typeof DeployStatus)[keyof typeof DeployStatus];
export const FINAL_DEPLOY_STATUSES: readonly DeployStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isFinal = (s: DeployStatus): boolean => FINAL_DEPLOY_STATUSES.includes(s);

/** Where a deploy came from; `wake`: a request to an app scaled to zero whose suspended pods were gone. */
export const DeploySource = {
  api: 'api',
  git: 'git',
  dashboard: 'dashboard',
  rollback: 'rollback',
  wake: 'wake',
} as const;
export type DeploySource = (typeof DeploySource)[keyof typeof DeploySource];

/** The git commit a deploy was made from (`git push`); null or absent for other sources. */
export interface DeployCommit {
  sha: string;
  message: string;
}

export interface DeployTimings {
  queuedMs: number | null;
  buildMs: number | null;
  deployMs: number | null;
  totalMs: number | null;
}

export interface Deploy {
  id: string;
  app: string;
  status: DeployStatus;
  release: number | null;
  error: { code: string; message: string } | null;
  source: DeploySource;
  createdAt: string;
  startedAt: string | null;
  builtAt: string | null;
  finishedAt: string | null;
  timings: DeployTimings;
  /** Content address (sha256) of the uploaded bundle in the blob store; null when no build was needed (config change, rollback). */
  bundleDigest: string | null;
  /** The pushed commit, for deploys from `git push`. */
  commit?: DeployCommit | null;
}

/** Derives the API's timings from the recorded instants. */
export function computeTimings(d: Pick<Deploy, 'createdAt' | 'startedAt' | 'builtAt' | 'finishedAt'>): DeployTimings {
  const t = (s: string | null) => (s ? Date.parse(s) : null);
  const [c, s, b, f] = [t(d.createdAt), t(d.startedAt), t(d.builtAt), t(d.finishedAt)];
  const diff = (a: number | null, z: number | null) => (a !== null && z !== null ? z - a : null);
  return { queuedMs: diff(c, s), buildMs: diff(s, b), deployMs: diff(b, f), totalMs: diff(c, f) };
}

/** A deploy record as it starts (queued, nothing done yet); `id` from the store's newId('d'). */
export function newDeploy(opts: {
  id: string;
  app: string;
  source: DeploySource;
  bundleDigest: string | null;
}): Deploy {
  return {
    id: opts.id,
    app: opts.app,
    status: 'queued',
    release: null,
    error: null,
    source: opts.source,
    createdAt: new Date().toISOString(),
    startedAt: null,
    builtAt: null,
    finishedAt: null,
    timings: { queuedMs: null, buildMs: null, deployMs: null, totalMs: null },
    bundleDigest: opts.bundleDigest,
  };
}
