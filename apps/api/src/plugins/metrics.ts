import type { FastifyInstance } from 'fastify';
import { createApiMetrics, type ApiMetrics } from '@hookrelay/metrics';
import type { Queues } from '@hookrelay/queue';

/** The API's metrics, with queue depths read from `queues` at scrape time. */
export function createAppMetrics(app: FastifyInstance, queues: Queues): ApiMetrics {
  return createApiMetrics({
    queueDepth: {
      queues: () => [queues.deliveries, queues.batches, queues.retries, queues.deadLetters, queues.maintenance],
      connected: () => queues.connected(),
      onError: (err) => app.log.debug({ err: err.message }, 'queue depths not refreshed for this scrape'),
    },
  });
}

/**
 * Times every request by its route template (`/v1/events/:id`, never the raw URL) and serves
 * `GET /metrics` in the Prometheus text format. No authentication, as scrapers expect: keep the
 * port off the public network, or block the path at the proxy.
 */
export function registerMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}
