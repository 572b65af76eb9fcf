import { createDocument } from 'zod-openapi';
import { appPaths } from './app-paths.js';
import { platformPaths } from './platform-paths.js';

const DESCRIPTION = `The Sidecar PaaS REST API. docs/api.md is the contract in prose; this document has the exact shapes,
generated from the same zod schemas the API validates requests with (\`@sidecar/core/wire\`).

Every \`/api/v1\` call but this document needs \`Authorization: Bearer <token>\`. Errors are
\`application/problem+json\` with a stable \`code\`; the git endpoints answer errors as text/plain for git to show.
The dashboard is served at \`/\` (any other GET that accepts HTML).`;

/** The OpenAPI 3.1 document of the API, built from the wire schemas. */
export function openApiDocument(): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.0',
    info: { title: 'Sidecar PaaS API', version: 'v1', description: DESCRIPTION },
    security: [{ bearer: [] }],
    tags: ['apps', 'deploys', 'releases', 'logs', 'pods', 'jobs', 'git', 'tokens', 'platform'].map((name) => ({
      name,
    })),
    paths: { ...platformPaths, ...appPaths },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (`sct_...`); admin or deployer' },
        gitBasic: { type: 'http', scheme: 'basic', description: 'git: any user name, an API token as the password' },
      },
    },
  });
}
