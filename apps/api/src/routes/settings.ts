import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { breakerProblem, effectiveProtection } from '@hookrelay/domain';
import { getTenant, updateTenantSettings } from '@hookrelay/db';
import { badField, notFound } from '../plugins/errors.ts';
import { errorResponses } from '../schemas/common.ts';
import { Settings, SettingsPatch } from '../schemas/settings.ts';
import type { RouteDeps } from './deps.ts';

/**
 * The tenant's endpoint-protection defaults: what its subscriptions get unless they set their own
 * rate limit or in-flight cap. Answers always show the full effective values.
 */
export const settingsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db }) => {
  const effective = (stored: Parameters<typeof effectiveProtection>[1]) => effectiveProtection({}, stored);

  app.get(
    '/settings',
    { schema: { tags: ['settings'], response: { 200: Settings, ...errorResponses } } },
    async (request) => {
      const tenant = await getTenant(db, request.tenantId);
      if (!tenant) throw notFound('tenant');
      return effective(tenant.settings);
    },
  );

  app.patch(
    '/settings',
    { schema: { tags: ['settings'], body: SettingsPatch, response: { 200: Settings, ...errorResponses } } },
    async (request) => {
      const tenant = await getTenant(db, request.tenantId);
      if (!tenant) throw notFound('tenant');
      const { breaker, ...rest } = request.body;
      const next = { ...tenant.settings, ...rest, ...(breaker ? { breaker: { ...tenant.settings.breaker, ...breaker } } : {}) };
      const problem = breakerProblem(effective(next).breaker);
      if (problem) throw badField('body/breaker', problem);
      const updated = await updateTenantSettings(db, request.tenantId, next);
      return effective(updated!.settings);
    },
  );
};
