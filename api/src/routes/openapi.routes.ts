import { Router } from 'express';
import { openApiDocument } from '../openapi/document.js';

/** `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document, without a token (it holds no secret). */
export function openApiRoutes(): Router {
  const r = Router();
  // Built once, when the app is: a schema the generator cannot render fails at start, not on a request.
  const body = JSON.stringify(openApiDocument());
  r.get('/api/v1/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
  return r;
}
