import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  customHeadersProblem,
  endpointUrlProblem,
  generateSecret,
  normalizeEventFilters,
  retryPolicyProblem,
  secretProblem,
  type RetryPolicy,
} from '@hookrelay/domain';
import {
  createSubscription,
  createWithinCap,
  deleteSubscription,
  getSubscription,
  isUuid,
  listSubscriptions,
  rotateSubscriptionSecret,
  updateSubscription,
  type Subscription,
  type SubscriptionInput,
} from '@hookrelay/db';
import { badField, notFound } from '../plugins/errors.ts';
import { IdParams, NullableInput, Page, PageQuery, errorResponses } from '../schemas/common.ts';
import { CreateSubscriptionBody, RotateSecretBody, SubscriptionResponse, UpdateSubscriptionBody } from '../schemas/subscriptions.ts';
import { ReplayAccepted, ReplayBody } from '../schemas/replay.ts';
import type { RouteDeps } from './deps.ts';
import { startDeadReplay } from './replay.ts';

type Fields = Partial<Omit<SubscriptionInput, 'retryPolicy'>> & { retryPolicy?: RetryPolicy | null };

/** Checks the meaning of fields the schema has already shaped; throws a 400 naming the field. */
function checkFields(body: Fields): void {
  if (body.url !== undefined) {
    const problem = endpointUrlProblem(body.url);
    if (problem) throw badField('body/url', problem);
  }
  if (body.secret !== undefined) {
    const problem = secretProblem(body.secret);
    if (problem) throw badField('body/secret', problem);
  }
  if (body.headers !== undefined) {
    const problem = customHeadersProblem(body.headers);
    if (problem) throw badField('body/headers', problem);
  }
  if (body.retryPolicy) {
    const problem = retryPolicyProblem(body.retryPolicy);
    if (problem) throw badField('body/retryPolicy', problem);
  }
  if (body.metadata !== undefined && JSON.stringify(body.metadata).length > 8192) {
    throw badField('body/metadata', 'must serialise to at most 8 KiB');
  }
}

export function toSubscriptionResponse(s: Subscription, { withSecret }: { withSecret: boolean }) {
  return {
    id: s.id,
    url: s.url,
    eventTypes: s.eventTypes,
    description: s.description,
    ...(withSecret ? { secret: s.secret } : {}),
    // The repository reads an ended overlap as null.
    previousSecretExpiresAt: s.previousSecretExpiresAt?.toISOString() ?? null,
    headers: s.headers,
    retryPolicy: s.retryPolicy ?? null,
    enabled: s.enabled,
    metadata: s.metadata,
    rateLimit: s.rateLimit ?? null,
    maxInFlight: s.maxInFlight ?? null,
    disableOnGone: s.disableOnGone,
    disabledReason: s.disabledReason ?? null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

export const subscriptionRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, guard, queues, limits }) => {
  /** Breaker state lives in Redis; without Redis the subscription is still shown, without health. */
  const health = (id: string) => guard.health(id).catch(() => null);

  const load = async (tenantId: string, id: string) => {
    const sub = isUuid(id) ? await getSubscription(db, tenantId, id) : undefined;
    if (!sub) throw notFound('subscription');
    return sub;
  };

  app.post(
    '/subscriptions',
    { schema: { tags: ['subscriptions'], body: CreateSubscriptionBody, response: { 201: SubscriptionResponse, ...errorResponses } } },
    async (request, reply) => {
      const body = request.body;
      checkFields(body);
      // At most HOOKRELAY_MAX_SUBSCRIPTIONS_PER_TENANT live ones: a 409 past it, and nothing written.
      const cap = limits?.maxSubscriptionsPerTenant ?? 0;
      const sub = await createWithinCap(db, request.tenantId, 'subscriptions', cap, (db) => createSubscription(db, request.tenantId, {
        url: body.url,
        eventTypes: normalizeEventFilters(body.eventTypes),
        description: body.description ?? null,
        secret: body.secret ?? generateSecret(),
        headers: body.headers ?? {},
        retryPolicy: body.retryPolicy ?? null,
        enabled: body.enabled ?? true,
        metadata: body.metadata ?? {},
        rateLimit: body.rateLimit ?? null,
        maxInFlight: body.maxInFlight ?? null,
        disableOnGone: body.disableOnGone ?? false,
      }));
      return reply.code(201).send({ ...toSubscriptionResponse(sub, { withSecret: true }), health: await health(sub.id) });
    },
  );

  app.get(
    '/subscriptions',
    {
      schema: {
        tags: ['subscriptions'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(SubscriptionResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listSubscriptions(db, request.tenantId, { limit: request.query.limit ?? 50, cursor: request.query.cursor });
      return { data: page.data.map((s) => toSubscriptionResponse(s, { withSecret: false })), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/subscriptions/:id',
    { schema: { tags: ['subscriptions'], params: IdParams, response: { 200: SubscriptionResponse, ...errorResponses } } },
    async (request) => {
      const sub = await load(request.tenantId, request.params.id);
      return { ...toSubscriptionResponse(sub, { withSecret: true }), health: await health(sub.id) };
    },
  );

  app.patch(
    '/subscriptions/:id',
    {
      schema: {
        tags: ['subscriptions'],
        params: IdParams,
        body: UpdateSubscriptionBody,
        response: { 200: SubscriptionResponse, ...errorResponses },
      },
    },
    async (request) => {
      const before = await load(request.tenantId, request.params.id);
      const body = request.body;
      checkFields(body);
      const { eventTypes, ...rest } = body;
      const updated = await updateSubscription(db, request.tenantId, request.params.id, {
        ...rest,
        ...(eventTypes !== undefined ? { eventTypes: normalizeEventFilters(eventTypes) } : {}),
      });
      if (!updated) throw notFound('subscription');
      // Re-enabling starts the endpoint afresh: a closed breaker and no failing streak.
      if (!before.enabled && updated.enabled) {
        await guard.reset(updated.id).catch((err) => request.log.warn({ err }, 'could not reset endpoint state in Redis'));
      }
      return { ...toSubscriptionResponse(updated, { withSecret: true }), health: await health(updated.id) };
    },
  );

  app.delete(
    '/subscriptions/:id',
    { schema: { tags: ['subscriptions'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      const ok = isUuid(request.params.id) && (await deleteSubscription(db, request.tenantId, request.params.id));
      if (!ok) throw notFound('subscription');
      await guard.reset(request.params.id).catch(() => {});
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/subscriptions/:id/rotate-secret',
    {
      schema: {
        tags: ['subscriptions'],
        description:
          'Replaces the signing secret (with `secret`, or a generated one). For 24 h deliveries carry two signatures, ' +
          'with the new secret and the old, so receivers can switch over; then only the new one.',
        params: IdParams,
        body: NullableInput(RotateSecretBody),
        response: { 200: SubscriptionResponse, ...errorResponses },
      },
    },
    async (request) => {
      const secret = request.body?.secret;
      if (secret !== undefined) {
        const problem = secretProblem(secret);
        if (problem) throw badField('body/secret', problem);
      }
      const rotated = isUuid(request.params.id)
        ? await rotateSubscriptionSecret(db, request.tenantId, request.params.id, secret ?? generateSecret())
        : undefined;
      if (!rotated) throw notFound('subscription');
      return { ...toSubscriptionResponse(rotated, { withSecret: true }), health: await health(rotated.id) };
    },
  );

  app.post(
    '/subscriptions/:id/replay',
    {
      schema: {
        tags: ['subscriptions'],
        description: 'Replays every dead delivery of the subscription (optionally within a time window), in the background.',
        params: IdParams,
        body: ReplayBody,
        response: { 202: ReplayAccepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const sub = await load(request.tenantId, request.params.id);
      const { since, until } = request.body;
      const accepted = await startDeadReplay(db, queues, { tenantId: request.tenantId, subscriptionId: sub.id, since, until });
      return reply.code(202).send(accepted);
    },
  );
};
