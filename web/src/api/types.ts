/**
 * The API's shapes, as the dashboard names them: types only, from the wire schemas the API validates
 * with and documents in its OpenAPI document (`@sidecar/core/wire`). Nothing else crosses into `web`.
 */
export type {
  AppMetricsView as AppMetrics,
  AppView as App,
  ContainerStatus,
  DeployView as Deploy,
  GitInfo,
  JobView as Job,
  List,
  PodEvent,
  PodView as Pod,
  Problem,
  ReleaseView as Release,
} from '@sidecar/core/wire';
