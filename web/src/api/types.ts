/** The API's shapes (shared/docs/API.md "Shapes" and docs/operations.md additions). */
export type AppStatus = 'new' | 'deploying' | 'running' | 'failed' | 'stopped';
export interface App {
  name: string;
  runtime: string;
  env: Record<string, string>;
  /** Keys only: the API masks every value ("******"). */
  secrets: Record<string, string>;
  replicas: number;
  url: string;
  currentRelease: number | null;
  status: AppStatus;
  createdAt: string;
}

export type DeployStatus = 'queued' | 'building' | 'deploying' | 'succeeded' | 'failed' | 'cancelled';
export const FINAL_STATUSES: readonly DeployStatus[] = ['succeeded', 'failed', 'cancelled'];
export type DeploySource = 'api' | 'git' | 'dashboard' | 'rollback';
export interface Commit {
  sha: string;
  message: string;
}
export interface Deploy {
  id: string;
  app: string;
  status: DeployStatus;
  release: number | null;
  error: { code: string; message: string } | null;
  source: DeploySource;
  /** The pushed commit, for deploys from `git push` (absent on platforms without git). */
  commit?: Commit | null;
  createdAt: string;
  finishedAt: string | null;
  timings: { queuedMs: number | null; buildMs: number | null; deployMs: number | null; totalMs: number | null };
}

export interface Release {
  version: number;
  image: string;
  imageDigest: string;
  runtimeImage: string;
  env: Record<string, string>;
  createdAt: string;
  deployId: string;
  current: boolean;
  /** The commit the code was built from; carried over by config changes and rollbacks. */
  commit?: Commit | null;
}

/** `GET /apps/:app/git`, where the platform serves git. */
export interface GitInfo {
  url: string;
  deployBranches: string[];
}

export interface ContainerStatus {
  name: string;
  image: string;
  sidecar: boolean;
  started: boolean;
  ready: boolean;
  restartCount: number;
  state: {
    waiting?: { reason: string; message?: string };
    running?: { startedAt: string };
    terminated?: { exitCode: number; reason: string; startedAt: string | null; finishedAt: string };
  };
}
export interface PodEvent {
  time: string;
  container: string;
  reason: string;
  message: string;
}
export interface Pod {
  name: string;
  release: number | null;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  ready: boolean;
  conditions: Array<{ type: string; status: string; reason?: string }>;
  initContainerStatuses: ContainerStatus[];
  containerStatuses: ContainerStatus[];
  events: PodEvent[];
}

export interface Job {
  id: string;
  app: string;
  release: number;
  command: string[];
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  exitCode: number | null;
  error?: string | null;
  output?: string;
  createdAt: string;
  startedAt?: string | null;
  finishedAt: string | null;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
}
export interface List<T> {
  items: T[];
}
