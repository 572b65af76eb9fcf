// One lint run over the whole tree, with type information (tsconfig.check.json covers every
// TypeScript file of the Node workspaces, tests included; web/tsconfig.json covers the dashboard).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const apps = ['api', 'router', 'worker', 'cli', 'web', 'single-host'];
/** I/O a pure module must not import: the network, the disk, processes, and every client library. */
const ioModules = [
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:http',
  'node:https',
  'node:tls',
  'node:dgram',
  'node:child_process',
  'node:worker_threads',
  'node:os',
  'dockerode',
  'ioredis',
  'bullmq',
  'express',
  '@kubernetes/client-node',
  'pino',
];
const restrict = (patterns, paths = []) => ['error', { patterns, paths }];
/** A workspace must not import any app (apps are deployed alone; shared code lives in libraries). */
const noApps = (except = []) => ({
  group: apps.filter((a) => !except.includes(a)).map((a) => `@sidecar/${a}`),
  message: 'apps do not import apps: move what is shared into a library workspace (core, store, kubelet, …)',
});
// (Tests may share the repository's test support, test/support/, by path.)
const noRelativeEscape = {
  group: ['../../*/src/*', '../../../*/src/*', '../../../../*/src/*'],
  message: 'reach another workspace through its package name, not a path into its sources',
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'web/vite.config.ts', 'scripts/**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.check.json', './web/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      'no-restricted-imports': restrict([noApps(), noRelativeEscape]),
    },
  },
  // Node globals for everything but the dashboard; TypeScript checks names, these keep plain-JS rules honest.
  {
    files: ['**/*.ts'],
    ignores: ['web/**'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'Buffer',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'setImmediate',
          'queueMicrotask',
          'URL',
          'fetch',
          'Response',
          'Request',
          'Headers',
          'AbortController',
          'AbortSignal',
          'TextEncoder',
          'TextDecoder',
          'NodeJS',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
  // Libraries log through the process's logger (core's Log, pino in each process), never the console.
  // Exempt: programs whose output is their interface (platform sidecar programs, git's hook) and tests.
  {
    files: ['**/src/**/*.ts'],
    ignores: [
      '**/*.test.ts',
      'web/**',
      'runtime-image/src/programs/**',
      'api/src/git/hook-script.ts',
      'worker/src/backends/contract/**',
    ],
    rules: { 'no-console': 'error' },
  },
  // Plain JavaScript: the CLI's launcher script and the example apps (CommonJS handlers).
  {
    files: ['**/*.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', module: 'writable', require: 'readonly' },
    },
  },
  // core is pure: no I/O of any kind, no other workspace.
  {
    files: ['core/src/**/*.ts'],
    ignores: ['core/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': restrict([
        { group: ['@sidecar/*'], message: 'core depends on no other workspace' },
        { group: ioModules, message: 'core is pure: no I/O (the caller does the I/O and passes data in)' },
      ]),
    },
  },
  // The dashboard runs in the browser and may take only the shared API types from other workspaces.
  {
    files: ['web/src/**/*.ts'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'navigator',
          'sessionStorage',
          'fetch',
          'Blob',
          'File',
          'FileList',
          'DataTransfer',
          'XMLHttpRequest',
          'TextEncoder',
          'TextDecoderStream',
          'CompressionStream',
          'Response',
          'URLSearchParams',
          'AbortController',
          'AbortSignal',
          'HTMLElement',
          'Node',
          'Event',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'console',
        ].map((g) => [g, 'readonly']),
      ),
    },
    rules: {
      'no-restricted-imports': 'off',
      // Only types, and only those of the API's wire schemas: Vite builds web alone and erases them.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@sidecar/core/wire',
              allowTypeImports: true,
              message: 'web takes only types from the wire schemas (import type)',
            },
          ],
          patterns: [{ regex: '^@sidecar/(?!core/wire$)', message: 'web imports only the API types' }],
        },
      ],
    },
  },
  // Tests feed deliberately malformed shapes to validators.
  { files: ['**/*.test.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
