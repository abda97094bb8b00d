import sensible from '@fastify/sensible';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Db } from '@hookrelay/db';
import { EndpointGuard, EndpointHolds, listenForHolds } from '@hookrelay/protection';
import type { ApiMetrics } from '@hookrelay/metrics';
import type { Queues } from '@hookrelay/queue';
import { adminAuth, tenantAuth } from './plugins/auth.ts';
import { registerInputGuards } from './plugins/input-guards.ts';
import { registerBullBoard } from './plugins/bull-board.ts';
import { formatSchemaErrors, registerErrorHandling } from './plugins/errors.ts';
import { createAppMetrics, registerMetrics } from './plugins/metrics.ts';
import { registerOpenApi } from './plugins/openapi.ts';
import { registerRateLimits } from './plugins/rate-limit.ts';
import { registerSecurityHeaders } from './plugins/security-headers.ts';
import { DEFAULT_API_LIMITS, type ApiLimits } from './limits.ts';
import { adminTenantRoutes } from './routes/admin-tenants.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { ApiKeyCache } from './api-key-cache.ts';
import { createPublisher } from './publisher.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { settingsRoutes } from './routes/settings.ts';
import { sourceRoutes } from './routes/sources.ts';
import { statsRoutes } from './routes/stats.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { VERSION } from './version.ts';

export const BODY_LIMIT = 256 * 1024;

/**
 * One log line per request, written when it is answered (Fastify's default adds a second on
 * arrival). The access line goes through a logger without the redaction pass: its fields are
 * built here and carry no credential, and the redactor, whose wildcard paths take every value of
 * a line, cost about 10 µs a line, 4–5 % of a publish. Error lines keep it.
 */
class OneLinePerRequest extends LogController {
  constructor(private readonly access: FastifyBaseLogger | undefined) {
    super();
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
      remoteAddress: request.ip,
    };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else if (!this.access) reply.log.info(fields, 'request completed');
    else if (request.tenantId) this.access.info({ reqId: request.id, tenantId: request.tenantId, ...fields }, 'request completed');
    else this.access.info({ reqId: request.id, ...fields }, 'request completed');
  }
}

export interface AppDeps {
  db: Db;
  queues: Queues;
  /** A fail-fast Redis client: readiness probe and endpoint health. */
  redis: Redis;
  redisPrefix: string;
  publicUrl?: string | undefined;
  adminToken: string;
  logger: Logger | false;
  /** Prometheus metrics served at GET /metrics; a registry of its own is made when absent. */
  metrics?: ApiMetrics;
  /** Rate limits and per-tenant caps (`apiLimitsFromConfig(config)`); the configuration's defaults when absent. */
  limits?: ApiLimits;
}

/**
 * The holds the workers announce (`EndpointGuard.announceHold`), kept on a subscribed connection
 * of its own that waits out Redis outages; closed with the app.
 */
function listenToWorkers(app: FastifyInstance, deps: AppDeps): EndpointHolds {
  const holds = new EndpointHolds();
  const subscriber = deps.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, enableAutoPipelining: false });
  subscriber.on('error', (err: Error) => app.log.warn({ err: err.message }, 'redis connection problem (hold notices)'));
  const listening = listenForHolds(subscriber, deps.redisPrefix, holds);
  listening.subscribed.catch((err: unknown) => app.log.warn({ err }, 'could not subscribe to hold notices'));
  app.addHook('onClose', () => listening.stop());
  return holds;
}

export async function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.logger ? (deps.logger as FastifyBaseLogger) : undefined,
    bodyLimit: BODY_LIMIT,
    // Bad fields are reported, never silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array' } },
    schemaErrorFormatter: formatSchemaErrors,
    requestIdHeader: 'x-request-id',
    logController: new OneLinePerRequest(deps.logger ? (deps.logger.child({}, { redact: [] }) as FastifyBaseLogger) : undefined),
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerErrorHandling(app);
  // Before every route, so that each answer carries the headers.
  registerSecurityHeaders(app);
  registerInputGuards(app);
  const metrics = deps.metrics ?? createAppMetrics(app, deps.queues);
  registerMetrics(app, metrics);
  await app.register(sensible);
  await registerOpenApi(app, VERSION);
  const { db, queues } = deps;
  const guard = new EndpointGuard(deps.redis, deps.redisPrefix);
  const limits = deps.limits ?? DEFAULT_API_LIMITS;
  const rateLimits = await registerRateLimits(app, { redis: deps.redis, redisPrefix: deps.redisPrefix, limits });
  const holds = listenToWorkers(app, deps);
  const publisher = createPublisher(db, { queues, holds, metrics }, app.log);
  const apiKeys = new ApiKeyCache(db);
  const routeDeps = { db, queues, guard, holds, publisher, apiKeys, publicUrl: deps.publicUrl, metrics, limits };

  await app.register(healthRoutes, { db, redis: deps.redis });

  await app.register(
    async (admin) => {
      admin.addHook('onRequest', adminAuth(deps.adminToken, { failures: rateLimits.authFailures }));
      await admin.register(adminTenantRoutes, routeDeps);
    },
    { prefix: '/admin' },
  );
  await app.register(
    async (board) => {
      board.addHook('onRequest', adminAuth(deps.adminToken, { allowBasic: true, failures: rateLimits.authFailures }));
      await registerBullBoard(board, queues, '/admin/queues');
    },
    { prefix: '/admin' },
  );

  await app.register(
    async (ingest) => {
      if (rateLimits.perSource) ingest.addHook('onRequest', rateLimits.perSource);
      await ingest.register(ingestRoutes, routeDeps);
    },
    { prefix: '/in' },
  );

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', tenantAuth(apiKeys, rateLimits.authFailures));
      if (rateLimits.perTenant) v1.addHook('onRequest', rateLimits.perTenant);
      await v1.register(subscriptionRoutes, routeDeps);
      await v1.register(eventRoutes, routeDeps);
      await v1.register(deliveryRoutes, routeDeps);
      await v1.register(settingsRoutes, routeDeps);
      await v1.register(sourceRoutes, routeDeps);
      await v1.register(statsRoutes, routeDeps);
    },
    { prefix: '/v1' },
  );
  return app;
}
