import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EVENT_TYPE_PATTERN_SOURCE } from '@hookrelay/domain';
import { getDelivery, isUuid, listDeliveries, startNewRound } from '@hookrelay/db';
import { HttpError, notFound } from '../plugins/errors.ts';
import { IdParams, Page, PageQuery, errorResponses } from '../schemas/common.ts';
import { DeliveryResponse, DeliveryStatus, DeliveryWithAttempts } from '../schemas/deliveries.ts';
import { WindowQuery } from '../schemas/stats.ts';
import { enqueueCommitted, type RouteDeps } from './deps.ts';
import { parseWindow } from './stats.ts';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const Uuid = Type.String({ format: 'uuid' });

function presentDelivery<T extends { nextAttemptAt: Date | null; createdAt: Date; updatedAt: Date }>(d: T) {
  return { ...d, nextAttemptAt: iso(d.nextAttemptAt), createdAt: d.createdAt.toISOString(), updatedAt: d.updatedAt.toISOString() };
}

export const deliveryRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { db, queues } = deps;
  app.get(
    '/deliveries',
    {
      schema: {
        tags: ['deliveries'],
        querystring: Type.Object(
          {
            ...PageQuery,
            status: Type.Optional(DeliveryStatus),
            subscriptionId: Type.Optional(Uuid),
            eventId: Type.Optional(Uuid),
            statusCode: Type.Optional(
              Type.Integer({ minimum: 100, maximum: 599, description: "Status code of the delivery's last attempt" }),
            ),
            eventType: Type.Optional(
              Type.String({ pattern: EVENT_TYPE_PATTERN_SOURCE, description: "The event's exact type" }),
            ),
            ...WindowQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(DeliveryResponse), ...errorResponses },
      },
    },
    async (request) => {
      const { limit = 50, since, until, ...filter } = request.query;
      const page = await listDeliveries(db, request.tenantId, { limit, ...filter, ...parseWindow({ since, until }) });
      return { data: page.data.map(presentDelivery), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/deliveries/:id',
    { schema: { tags: ['deliveries'], params: IdParams, response: { 200: DeliveryWithAttempts, ...errorResponses } } },
    async (request) => {
      const delivery = isUuid(request.params.id) ? await getDelivery(db, request.tenantId, request.params.id) : undefined;
      if (!delivery) throw notFound('delivery');
      return {
        ...presentDelivery(delivery),
        attempts: delivery.attempts.map((a) => ({ ...a, startedAt: a.startedAt.toISOString() })),
      };
    },
  );

  app.post(
    '/deliveries/:id/retry',
    {
      schema: {
        tags: ['deliveries'],
        description: 'Queues a finished (dead or succeeded) delivery for a fresh round of attempts.',
        params: IdParams,
        response: { 202: Type.Object({ id: Type.String(), status: Type.Literal('pending') }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      if (!isUuid(id)) throw notFound('delivery');
      const result = await startNewRound(db, request.tenantId, id);
      if (result.outcome === 'not_found') throw notFound('delivery');
      if (result.outcome === 'pending') throw new HttpError(409, 'delivery is still pending: it already has attempts scheduled');
      await enqueueCommitted(deps, [result.delivery], request.log, { deliveryId: id }, () => queues.deadLetters.remove(id));
      return reply.code(202).send({ id, status: 'pending' as const });
    },
  );
};
