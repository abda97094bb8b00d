import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EVENT_TYPE_PATTERN_SOURCE, OPERATIONAL_EVENT_PREFIX } from '@hookrelay/domain';
import { getEvent, isUuid, listEvents } from '@hookrelay/db';
import { HttpError, notFound } from '../plugins/errors.ts';
import { IdParams, Page, PageQuery, errorResponses } from '../schemas/common.ts';
import {
  EventResponse,
  EventWithDeliveries,
  PublishEventBody,
  PublishEventHeaders,
  PublishEventResponse,
} from '../schemas/events.ts';
import { WindowQuery } from '../schemas/stats.ts';
import type { RouteDeps } from './deps.ts';
import { parseWindow } from './stats.ts';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const eventRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, publisher, metrics }) => {
  app.post(
    '/events',
    {
      // `data` goes to a json column as published: NUL, lone surrogates and all.
      config: { verbatimBodyFields: ['data'] },
      schema: {
        tags: ['events'],
        body: PublishEventBody,
        headers: PublishEventHeaders,
        response: { 202: PublishEventResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { type, data, idempotencyKey: bodyKey } = request.body;
      if (type.toLowerCase().startsWith(OPERATIONAL_EVENT_PREFIX)) {
        throw new HttpError(400, `body/type must not start with "${OPERATIONAL_EVENT_PREFIX}": that prefix is reserved for Hookrelay's own events`);
      }
      const headerKey = request.headers['idempotency-key'];
      if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) {
        throw new HttpError(400, 'body/idempotencyKey and the Idempotency-Key header differ');
      }
      // Committed and queued on return. If Redis could not take the jobs, the reconciler enqueues
      // them from Postgres later: the delivery is owed either way, so the answer is still 202.
      const result = await publisher.publish(request.tenantId, { type, data, idempotencyKey: bodyKey ?? headerKey });
      if (!result.replayed) metrics?.eventsIngested.inc({ origin: 'api' });
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send({
        id: result.event.id,
        type: result.event.type,
        timestamp: result.event.timestamp.toISOString(),
        deliveries: result.event.deliveryCount,
      });
    },
  );

  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        querystring: Type.Object(
          { ...PageQuery, type: Type.Optional(Type.String({ pattern: EVENT_TYPE_PATTERN_SOURCE })), ...WindowQuery },
          { additionalProperties: false },
        ),
        response: { 200: Page(EventResponse), ...errorResponses },
      },
    },
    async (request) => {
      const { limit = 50, cursor, type, since, until } = request.query;
      const page = await listEvents(db, request.tenantId, { limit, cursor, type, ...parseWindow({ since, until }) });
      return {
        data: page.data.map((e) => ({ ...e, timestamp: e.timestamp.toISOString() })),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.get(
    '/events/:id',
    { schema: { tags: ['events'], params: IdParams, response: { 200: EventWithDeliveries, ...errorResponses } } },
    async (request) => {
      const event = isUuid(request.params.id) ? await getEvent(db, request.tenantId, request.params.id) : undefined;
      if (!event) throw notFound('event');
      return {
        ...event,
        timestamp: event.timestamp.toISOString(),
        deliveries: event.deliveries.map((d) => ({ ...d, nextAttemptAt: iso(d.nextAttemptAt) })),
      };
    },
  );
};
