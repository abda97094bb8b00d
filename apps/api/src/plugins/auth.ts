import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { safeEqual } from '@hookrelay/domain';
import type { ApiKeyCache } from '../api-key-cache.ts';
import type { AuthFailureLimiter } from './rate-limit.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the tenant auth hook on every /v1 route; every query is scoped by it. */
    tenantId: string;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, token] = header.split(' ', 2);
  return scheme?.toLowerCase() === 'bearer' && token ? token.trim() : undefined;
}

/** Basic auth with any user name and the admin token as password, so a browser can open Bull Board. */
function basicPassword(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

function unauthorized(reply: FastifyReply, message: string, challenge: string) {
  return reply
    .code(401)
    .header('www-authenticate', challenge)
    .send({ statusCode: 401, error: 'Unauthorized', message });
}

export function adminAuth(adminToken: string, { allowBasic = false, failures }: { allowBasic?: boolean; failures?: AuthFailureLimiter | undefined } = {}) {
  return async function checkAdmin(request: FastifyRequest, reply: FastifyReply) {
    const token = bearer(request) ?? (allowBasic ? basicPassword(request) : undefined);
    // An address that sent too many wrong credentials is refused even a right one, until its window ends.
    if (token && failures && (await failures.blocked(request, reply))) return reply;
    if (token && safeEqual(token, adminToken)) return;
    if (token) await failures?.failed(request);
    const challenge = allowBasic ? 'Basic realm="hookrelay-admin", charset="UTF-8"' : 'Bearer realm="hookrelay-admin"';
    return unauthorized(reply, token ? 'invalid admin token' : 'admin token required', challenge);
  };
}

export function tenantAuth(keys: ApiKeyCache, failures?: AuthFailureLimiter) {
  return async function checkTenant(request: FastifyRequest, reply: FastifyReply) {
    const key = bearer(request);
    if (!key) return unauthorized(reply, 'API key required: Authorization: Bearer <apiKey>', 'Bearer realm="hookrelay"');
    if (failures && (await failures.blocked(request, reply))) return reply;
    const tenantId = await keys.tenantOf(key);
    if (!tenantId) {
      await failures?.failed(request);
      return unauthorized(reply, 'API key is unknown or revoked', 'Bearer realm="hookrelay"');
    }
    request.tenantId = tenantId;
    // Every later log line of this request names the tenant, the access line too (it is written
    // through reply.log, the same per-request logger). Fastify made that logger for this request
    // alone, so it takes the binding itself: a second child per request cost 2–3 % of the API's
    // CPU. Without logging it is Fastify's null logger, which binds nothing.
    (request.log as FastifyBaseLogger & Partial<Pick<Logger, 'setBindings'>>).setBindings?.({ tenantId });
  };
}
