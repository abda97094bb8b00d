import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { InvalidCursorError, TenantCapError, isDatabaseUnavailable } from '@hookrelay/db';

/** A 4xx whose message says which field is wrong and why. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const badField = (path: string, problem: string) => new HttpError(400, `${path} ${problem}`);
export const notFound = (what: string) => new HttpError(404, `${what} not found`);

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** One message naming the first bad field, e.g. `body/retryPolicy/schedule/0 must be >= 0`. */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  // A failed `enum: [null]` branch (see NullableInput) says less than the branch for real values.
  const first = errors.find((e) => !(e.keyword === 'enum' && isOnlyNull(e.params))) ?? errors[0]!;
  const path = `${dataVar}${first.instancePath ?? ''}`;
  const params = first.params as Record<string, unknown>;
  let message = `${path} ${first.message ?? 'is invalid'}`;
  if (first.keyword === 'additionalProperties') message = `${path} has unknown property '${String(params.additionalProperty)}'`;
  if (first.keyword === 'required') message = `${path}/${String(params.missingProperty)} is required`;
  return new Error(message);
}

const isOnlyNull = (params: Record<string, unknown>) =>
  Array.isArray(params.allowedValues) && params.allowedValues.length === 1 && params.allowedValues[0] === null;

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof InvalidCursorError) return reply.code(400).send(body(400, `querystring/cursor ${error.message}`));
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return reply
        .code(503)
        .header('retry-after', '5')
        .send(body(503, 'the database is unavailable; nothing was stored, try again shortly'));
    }
    if (error instanceof TenantCapError) return reply.code(409).send({ ...body(409, error.message), code: 'TENANT_CAP_REACHED' });
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      // Internal details (SQL, hostnames) stay in the logs.
      return reply.code(status).send(body(status, status === 503 ? error.message : 'internal error; the failure was logged'));
    }
    const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    return reply.code(status).send({ ...body(status, error.message), ...(code ? { code } : {}) });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(body(404, `route ${request.method} ${request.url} not found`)));
}

function body(statusCode: number, message: string) {
  return { statusCode, error: STATUS_TEXT[statusCode] ?? (statusCode >= 500 ? 'Internal Server Error' : 'Error'), message };
}
