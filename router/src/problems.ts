/**
 * The router's own answers, as RFC 9457 problem+json with a stable `code`. They are
 * sent by the data plane (HAProxy), so they are rendered into its configuration as
 * templates; `requestId` is the request's X-Request-Id.
 */
export const RouterProblem = {
  appNotFound: { status: 404, code: 'app_not_found', title: 'No app here' },
  noReadyPod: { status: 503, code: 'no_ready_pod', title: 'The app has no ready pod' },
  overloaded: { status: 503, code: 'app_overloaded', title: 'Too many requests in flight to the app' },
  bodyTooLarge: { status: 413, code: 'body_too_large', title: 'Request body too large' },
  upstreamTimeout: { status: 504, code: 'upstream_timeout', title: 'The app did not answer in time' },
  upstreamFailed: { status: 502, code: 'upstream_failed', title: 'The app did not answer' },
} as const;
export type RouterProblem = (typeof RouterProblem)[keyof typeof RouterProblem];

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
