import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import {
  AppLogLine,
  AppLogsQuery,
  AppMetricsQuery,
  AppMetricsView,
  AppView,
  BUNDLE_MEDIA_TYPES,
  CreateAppBody,
  DeployLogQuery,
  DeployView,
  GitInfo,
  JobView,
  listOf,
  ManifestsQuery,
  ManifestsView,
  PatchAppBody,
  PatchGitBody,
  PodView,
  ProcessList,
  ReleaseView,
  RollbackBody,
  RunJobBody,
} from '@sidecar/core/wire';
import { apiOp, appIdPath, appPath, binary, json, location } from './responses.js';

const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema } } });
const text = (description: string) => ({ schema: z.string().meta({ description }) });

const DEPLOY_LOG_SSE =
  'Server-sent events: `event: line` whose data is the line as a JSON string, then `event: end` with data `{"status": "<final deploy status>"}`; comments (`: keep-alive`) while quiet';
const APP_LOG_SSE =
  'Server-sent events: `event: line` whose data is an AppLogLine as JSON; comments (`: keep-alive`) while quiet';

/** Apps and everything under /apps/{app}. */
export const appPaths: ZodOpenApiPathsObject = {
  '/api/v1/apps': {
    post: apiOp({
      tags: ['apps'],
      summary: 'Create an app',
      description:
        'A deployer token may create only apps it names, and at most SIDECAR_MAX_APPS_PER_TOKEN of them (default 20; 429 `quota_exceeded`). Settings past a platform maximum are 422 `limit_exceeded`.',
      requestBody: body(CreateAppBody),
      responses: { '201': json('The app', AppView) },
      errors: ['forbidden', 'app_exists', 'invalid_name', 'limit_exceeded', 'quota_exceeded', 'unsupported'],
    }),
    get: apiOp({
      tags: ['apps'],
      summary: 'List the apps the token may touch',
      responses: { '200': json('The apps', listOf(AppView)) },
    }),
  },
  '/api/v1/apps/{app}': {
    get: apiOp({
      tags: ['apps'],
      summary: 'Get an app',
      requestParams: { path: appPath },
      responses: { '200': json('The app', AppView) },
      appScoped: true,
    }),
    patch: apiOp({
      tags: ['apps'],
      summary: 'Change settings (env, secrets, replicas, resources, sidecars, http, network, scaleToZero)',
      requestParams: { path: appPath },
      requestBody: body(PatchAppBody),
      responses: { '200': json('The app, after a rollout was started if one was needed', AppView) },
      errors: ['limit_exceeded', 'unsupported'],
      appScoped: true,
    }),
    delete: apiOp({
      tags: ['apps'],
      summary: 'Delete an app: its pods stop, its router entry, deploys, jobs, logs and repository go',
      requestParams: { path: appPath },
      responses: { '204': { description: 'Deleted' } },
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/deploys': {
    post: apiOp({
      tags: ['deploys'],
      summary: 'Deploy a bundle',
      description:
        'The body is the bundle: a tar.gz, tar or zip of the app folder (a single top-level folder is stripped). Answers at once; follow the deploy log to see it build and roll out. Older deploys still queued or building are superseded.',
      requestParams: {
        path: appPath,
        header: z.object({
          'x-sidecar-source': z
            .enum(['dashboard'])
            .optional()
            .meta({ description: 'Records the deploy as made from the dashboard' }),
        }),
      },
      requestBody: {
        required: true,
        content: Object.assign({}, ...BUNDLE_MEDIA_TYPES.map(binary)),
      },
      responses: { '202': json('The queued deploy', DeployView, { headers: location }) },
      errors: ['unsupported_media_type', 'bundle_too_large', 'bundle_invalid'],
      appScoped: true,
    }),
    get: apiOp({
      tags: ['deploys'],
      summary: 'List deploys, newest first',
      requestParams: { path: appPath },
      responses: { '200': json('The deploys', listOf(DeployView)) },
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/deploys/{id}': {
    get: apiOp({
      tags: ['deploys'],
      summary: 'Get a deploy',
      requestParams: { path: appIdPath('deploy') },
      responses: { '200': json('The deploy', DeployView) },
      errors: ['deploy_not_found'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/deploys/{id}/logs': {
    get: apiOp({
      tags: ['deploys', 'logs'],
      summary: "A deploy's build and rollout log",
      description:
        'Everything so far; with `?follow=true` (or `Accept: text/event-stream`) the response stays open until the deploy ends. At most 20 followed logs per token (429).',
      requestParams: { path: appIdPath('deploy'), query: DeployLogQuery },
      responses: {
        '200': {
          description: 'The log, one line per line',
          content: {
            'text/plain': text('Log lines, each ending in a newline'),
            'text/event-stream': text(DEPLOY_LOG_SSE),
          },
        },
      },
      errors: ['deploy_not_found', 'rate_limited'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/deploys/{id}/cancel': {
    post: apiOp({
      tags: ['deploys'],
      summary: 'Cancel a deploy that has not ended',
      requestParams: { path: appIdPath('deploy') },
      responses: { '202': json('The deploy (cancelled, or asked to stop)', DeployView) },
      errors: ['deploy_not_found', 'deploy_finished'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/releases': {
    get: apiOp({
      tags: ['releases'],
      summary: 'List releases, newest first',
      requestParams: { path: appPath },
      responses: { '200': json('The releases', listOf(ReleaseView)) },
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/rollback': {
    post: apiOp({
      tags: ['releases'],
      summary: "Roll back: a new release that reuses that version's images and env",
      requestParams: { path: appPath },
      requestBody: body(RollbackBody),
      responses: { '202': json('The deploy rolling it out', DeployView, { headers: location }) },
      errors: ['release_not_found', 'image_pruned'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/pods': {
    get: apiOp({
      tags: ['pods'],
      summary: "The app's pods, with their containers and lifecycle timeline",
      requestParams: { path: appPath },
      responses: { '200': json('The pods', listOf(PodView)) },
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/pods/{pod}/processes': {
    get: apiOp({
      tags: ['pods'],
      summary: "The runtime container's processes (the procinfo sidecar)",
      requestParams: { path: z.object({ app: appPath.shape.app, pod: z.string() }) },
      responses: { '200': json('The latest snapshot', ProcessList) },
      errors: ['not_found', 'invalid_request'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/logs': {
    get: apiOp({
      tags: ['logs'],
      summary: "The app's runtime and sidecar logs",
      description:
        'Kept across pods, redeploys and rollbacks (10 000 lines per app, each cut at 4 KiB; 7 days). text/plain lines are `<time> <pod>/<container>[/<file>] <line>`. `?follow=true` or `Accept: text/event-stream` keeps the response open; `Accept: application/json` (not following) answers `{items}`.',
      requestParams: { path: appPath, query: AppLogsQuery },
      responses: {
        '200': {
          description: 'The log lines, oldest first',
          content: {
            'text/plain': text('`<time> <pod>/<container>[/<file>] <line>` lines'),
            'text/event-stream': text(APP_LOG_SSE),
            'application/json': { schema: listOf(AppLogLine) },
          },
        },
      },
      errors: ['invalid_request', 'rate_limited'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/metrics': {
    get: apiOp({
      tags: ['apps'],
      summary: "The app's traffic through the router",
      description:
        'Requests by status class, latency percentiles and bytes over the last `minutes`, and one point per 10 s (requests, 5xx errors, p50/p95). The routers write their counts every 2 s (docs/router.md).',
      requestParams: { path: appPath, query: AppMetricsQuery },
      responses: { '200': json('The traffic', AppMetricsView) },
      errors: ['invalid_request'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/jobs': {
    post: apiOp({
      tags: ['jobs'],
      summary: 'Run a one-off command against the current release',
      description:
        "At most SIDECAR_MAX_JOBS_PER_APP jobs of an app pending or running at once (default 2; one more is 429 `quota_exceeded`); a job running longer than SIDECAR_JOB_TIME_LIMIT_MS (default 1 h) is stopped and fails. Its env is held to the same limits as the app's (422 `limit_exceeded`).",
      requestParams: { path: appPath },
      requestBody: body(RunJobBody),
      responses: { '202': json('The pending job', JobView, { headers: location }) },
      errors: ['no_release', 'limit_exceeded', 'quota_exceeded'],
      appScoped: true,
    }),
    get: apiOp({
      tags: ['jobs'],
      summary: 'List jobs, newest first',
      requestParams: { path: appPath },
      responses: { '200': json('The jobs', listOf(JobView)) },
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/jobs/{id}': {
    get: apiOp({
      tags: ['jobs'],
      summary: 'Get a job: status, exit code and output',
      requestParams: { path: appIdPath('job') },
      responses: { '200': json('The job', JobView) },
      errors: ['job_not_found'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/manifests': {
    get: apiOp({
      tags: ['apps'],
      summary: 'The objects the app is (or would be) deployed as, rendered from the one pod template',
      requestParams: { path: appPath, query: ManifestsQuery },
      responses: { '200': json('The manifests', ManifestsView) },
      errors: ['invalid_request', 'no_release', 'release_not_found', 'not_ready'],
      appScoped: true,
    }),
  },
  '/api/v1/apps/{app}/git': {
    get: apiOp({
      tags: ['git'],
      summary: "The app's git remote and branches (where the platform serves git)",
      requestParams: { path: appPath },
      responses: { '200': json('The git side of the app', GitInfo) },
      appScoped: true,
    }),
    patch: apiOp({
      tags: ['git'],
      summary: 'Choose the branch whose pushes deploy',
      requestParams: { path: appPath },
      requestBody: body(PatchGitBody),
      responses: { '200': json('The git side of the app', GitInfo) },
      appScoped: true,
    }),
  },
};
