import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from 'zod-openapi';
import {
  AppName,
  CreatedToken,
  CreateTokenBody,
  DeployView,
  Health,
  listOf,
  Readiness,
  TokenView,
} from '@sidecar/core/wire';
import { apiOp, binary, json } from './responses.js';

const open = { security: [] };
const git = { tags: ['git'], security: [{ gitBasic: [] }] };
const repoPath = z.object({
  app: AppName.meta({ description: 'The app; the remote is `http://HOST/git/<app>.git`' }),
});
const gitErrors = {
  description: "text/plain, not problem+json: git shows a failed request's body to the user only as text",
  content: { 'text/plain': { schema: z.string() } },
};

/** One of git's two smart-HTTP services: the pack request in, its result out. */
const gitService = (service: 'upload-pack' | 'receive-pack', summary: string): ZodOpenApiOperationObject => ({
  ...git,
  summary,
  requestParams: { path: repoPath },
  requestBody: { content: binary(`application/x-git-${service}-request`) },
  responses: {
    '200': { description: `git's ${service} result`, content: binary(`application/x-git-${service}-result`) },
    '401': gitErrors,
    '404': gitErrors,
  },
});

/** The platform itself: probes, tokens, the runtime, the CA, this document, and git over smart HTTP. */
export const platformPaths: ZodOpenApiPathsObject = {
  '/healthz': {
    get: { ...open, tags: ['platform'], summary: 'Liveness', responses: { '200': json('Alive', Health) } },
  },
  '/readyz': {
    get: {
      ...open,
      tags: ['platform'],
      summary: 'Ready when Redis answers and a worker has reached the target in the last 15 s',
      responses: { '200': json('Ready', Readiness), '503': json('Not ready: what is down', Readiness) },
    },
  },
  '/metrics': {
    get: {
      ...open,
      tags: ['platform'],
      summary: "The API's Prometheus metrics",
      responses: {
        '200': {
          description: 'Prometheus text exposition format 0.0.4',
          content: { 'text/plain': { schema: z.string() } },
        },
      },
    },
  },
  '/api/v1/openapi.json': {
    get: {
      ...open,
      tags: ['platform'],
      summary: 'This document (OpenAPI 3.1)',
      responses: { '200': { description: 'The OpenAPI document', content: { 'application/json': {} } } },
    },
  },
  '/api/v1/tokens': {
    post: apiOp({
      tags: ['tokens'],
      summary: 'Create a token (admin only); its secret is in this answer only',
      requestBody: { required: true, content: { 'application/json': { schema: CreateTokenBody } } },
      responses: { '201': json('The token, with its secret', CreatedToken) },
      errors: ['forbidden'],
    }),
    get: apiOp({
      tags: ['tokens'],
      summary: 'List tokens (admin only; never a secret)',
      responses: { '200': json('The tokens', listOf(TokenView)) },
      errors: ['forbidden'],
    }),
  },
  '/api/v1/whoami': {
    get: apiOp({
      tags: ['tokens'],
      summary: 'The token this request is made with (any role; never its secret)',
      responses: { '200': json('The token', TokenView) },
    }),
  },
  '/api/v1/tokens/{id}': {
    delete: apiOp({
      tags: ['tokens'],
      summary: 'Revoke a token (admin only): at once for API calls, git pushes, the dashboard and followed logs',
      requestParams: { path: z.object({ id: z.string().meta({ description: 'The id `GET /api/v1/tokens` lists' }) }) },
      responses: { '204': { description: 'Revoked' } },
      errors: ['forbidden', 'token_not_found', 'token_in_use'],
    }),
  },
  '/api/v1/runtime/rollout': {
    post: apiOp({
      tags: ['platform'],
      summary: "Roll every deployed app onto the platform's current runtime image, without rebuilds (admin only)",
      responses: { '202': json('One deploy per app moved', listOf(DeployView)) },
      errors: ['forbidden', 'not_ready'],
    }),
  },
  '/api/v1/ca.pem': {
    get: apiOp({
      tags: ['platform'],
      summary: "The platform CA's certificate, which signs the TLS sidecars' certificates",
      responses: {
        '200': { description: 'PEM', content: { 'application/x-pem-file': { schema: z.string() } } },
      },
    }),
  },
  '/git/{app}.git/info/refs': {
    get: {
      ...git,
      summary: 'git smart HTTP: ref advertisement (the start of a clone, fetch or push)',
      requestParams: {
        path: repoPath,
        query: z.object({ service: z.enum(['git-upload-pack', 'git-receive-pack']) }),
      },
      responses: {
        '200': {
          description: "git's ref advertisement",
          content: {
            ...binary('application/x-git-upload-pack-advertisement'),
            ...binary('application/x-git-receive-pack-advertisement'),
          },
        },
        '400': gitErrors,
        '401': gitErrors,
        '404': gitErrors,
        // The start of a first push creates the app: the limits of POST /apps.
        '422': gitErrors,
        '429': gitErrors,
      },
    },
  },
  '/git/{app}.git/git-upload-pack': {
    post: gitService('upload-pack', 'git smart HTTP: clone and fetch'),
  },
  '/git/{app}.git/git-receive-pack': {
    post: {
      ...gitService(
        'receive-pack',
        'git smart HTTP: push; a push to a deploy branch deploys it, its build streamed back as `remote:` lines',
      ),
      description:
        "A failed deploy rejects the push, and so does a push that would take the app's repository past its quota (SIDECAR_GIT_REPO_QUOTA_BYTES), both with the reason as `remote:` lines. Authenticate with HTTP Basic: any user name, a token as the password (docs/git-push.md).",
      responses: {
        ...gitService('receive-pack', '').responses,
        '422': gitErrors,
        '429': gitErrors,
      },
    },
  },
  '/git/_hooks/pre-receive': {
    post: {
      tags: ['git'],
      security: [],
      summary: "Internal: called by the platform's own pre-receive hook during a push, with a single-use secret",
      description: 'Not for clients. Answers the deploy output as text, ending in an exit marker line.',
      requestParams: { header: z.object({ 'x-sidecar-push-secret': z.string() }) },
      requestBody: { content: { 'application/json': {} } },
      responses: {
        '200': { description: 'The deploy output', content: { 'text/plain': { schema: z.string() } } },
        '403': gitErrors,
      },
    },
  },
};
