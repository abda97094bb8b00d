import type { FastifyInstance } from 'fastify';
import { MAX_JSON_DEPTH, findUnstorableValue, jsonDepthExceeds } from '@hookrelay/domain';
import { HttpError } from './errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Top-level body fields stored verbatim in a `json` column: not checked for unstorable values. */
    verbatimBodyFields?: readonly string[];
  }
}

const isParsedJson = (body: unknown): body is object => body !== null && typeof body === 'object' && !Buffer.isBuffer(body);

/**
 * What schema validation lets through but the database cannot take, refused with a 400 naming
 * the field instead of failing as a 500 (each was found by apps/api/test/hostile-input.test.ts):
 * - bodies nested deeper than MAX_JSON_DEPTH, which overflow JSON.stringify's stack when stored;
 * - NUL characters (Postgres text) and unpaired surrogates (jsonb) in strings and keys;
 * - numbers that are not finite: Ajv's type coercion turns "Infinity" into a number that then
 *   passes `minimum`/`maximum`, and JSON's 1e309 parses to Infinity.
 * Raw bodies (/in/:sourceId keeps Buffers) are checked by that route once it has parsed them.
 */
export function registerInputGuards(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (isParsedJson(request.body) && jsonDepthExceeds(request.body)) {
      throw new HttpError(400, `body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
  });
  // After validation, so that coerced values are seen as the handler will see them.
  app.addHook('preHandler', async (request) => {
    if (isParsedJson(request.body)) {
      const found = findUnstorableValue(request.body, request.routeOptions.config?.verbatimBodyFields);
      if (found) throw new HttpError(400, `body${found.path} ${found.problem}`);
    }
    if (isParsedJson(request.query)) {
      const found = findUnstorableValue(request.query);
      if (found) throw new HttpError(400, `querystring${found.path} ${found.problem}`);
    }
  });
}
