import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '@hookrelay/db';
import type { Redis } from 'ioredis';

const Check = Type.Object({ status: Type.String(), redis: Type.Optional(Type.String()), postgres: Type.Optional(Type.String()) });

async function probe(check: () => Promise<unknown>): Promise<string> {
  try {
    await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000).unref())]);
    return 'ok';
  } catch (err) {
    return `unavailable: ${(err as Error).message}`;
  }
}

export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Db; redis: Redis }> = async (app, { db, redis }) => {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Check } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['health'], response: { 200: Check, 503: Check } } }, async (_request, reply) => {
    const [redisState, postgresState] = await Promise.all([probe(() => redis.ping()), probe(() => db.sql`select 1`)]);
    const ready = redisState === 'ok' && postgresState === 'ok';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', redis: redisState, postgres: postgresState });
  });
};
