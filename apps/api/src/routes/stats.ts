import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { getDeliveryStats } from '@hookrelay/db';
import { badField, notFound } from '../plugins/errors.ts';
import { errorResponses } from '../schemas/common.ts';
import { StatsQuery, StatsResponse } from '../schemas/stats.ts';
import type { RouteDeps } from './deps.ts';

const DAY_MS = 24 * 60 * 60_000;
/** Postgres has no year 0; anything earlier than year 1 cannot be stored or compared. */
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');

/** A query-string time the schema accepted as a date-time, as a Date; a 400 naming the field otherwise. */
function toDate(value: string, field: string): Date {
  const date = new Date(value);
  // The schema's date-time format lets through what Date cannot hold (a leap second, 23:59:60).
  if (Number.isNaN(date.getTime())) throw badField(field, 'must be a date-time');
  if (date.getTime() < EARLIEST) throw badField(field, 'must not be before year 1');
  return date;
}

/** The since/until of a list filter as Dates; since must come before until when both are given. */
export function parseWindow(
  q: { since?: string | undefined; until?: string | undefined },
  where: 'querystring' | 'body' = 'querystring',
): {
  since?: Date | undefined;
  until?: Date | undefined;
} {
  const since = q.since === undefined ? undefined : toDate(q.since, `${where}/since`);
  const until = q.until === undefined ? undefined : toDate(q.until, `${where}/until`);
  if (since && until && since >= until) throw badField(`${where}/since`, `must be before ${where}/until`);
  return { since, until };
}

export const statsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db }) => {
  app.get(
    '/stats',
    {
      schema: {
        tags: ['stats'],
        description:
          'Delivery figures over a window (default: the last 24 hours): deliveries created in it, attempts started in it.',
        querystring: StatsQuery,
        response: { 200: StatsResponse, ...errorResponses },
      },
    },
    async (request) => {
      const parsed = parseWindow(request.query);
      const until = parsed.until ?? new Date();
      const since = parsed.since ?? new Date(Math.max(EARLIEST, until.getTime() - DAY_MS));
      // Checked again: a defaulted end may now be on the wrong side of a given one.
      if (since >= until) throw badField('querystring/since', 'must be before querystring/until');
      const { subscriptionId } = request.query;
      const stats = await getDeliveryStats(db, request.tenantId, { since, until, subscriptionId });
      if (!stats) throw notFound('subscription');
      const { succeeded, dead } = stats.deliveries;
      return {
        since: since.toISOString(),
        until: until.toISOString(),
        deliveries: stats.deliveries,
        successRate: succeeded + dead === 0 ? null : succeeded / (succeeded + dead),
        attempts: stats.attempts,
        topFailingSubscriptions: stats.topFailingSubscriptions.map(({ lastStatusCode, ...rest }) =>
          lastStatusCode === null ? rest : { ...rest, lastStatusCode },
        ),
      };
    },
  );
};
