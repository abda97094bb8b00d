import { createLogger, loadConfigOrExit, onShutdown, waitFor, warnAboutDevelopmentKey } from '@hookrelay/config';
import { createDb, prepareDatabase } from '@hookrelay/db';
import { createQueues, createRedis } from '@hookrelay/queue';
import { buildApp } from './app.ts';
import { apiLimitsFromConfig } from './limits.ts';

const config = loadConfigOrExit();
const logger = createLogger(config, 'api');
warnAboutDevelopmentKey(config, logger);
await waitFor('postgres', () => prepareDatabase(config.DATABASE_URL), logger);

const db = createDb(config.DATABASE_URL, { max: 20, encryptionKeys: config.encryptionKeys });
const redis = createRedis(config.REDIS_URL, 'producer');
const redisProblem = (err: Error) => logger.warn({ err: err.message }, 'redis connection problem');
redis.on('error', redisProblem);
const queues = createQueues(redis, config.HOOKRELAY_REDIS_PREFIX, redisProblem);
// Rate limits, endpoint health and readiness: small commands from every request in flight, which
// auto-pipelining sends together, on a connection apart from the queues'.
const appRedis = createRedis(config.REDIS_URL, 'producer', { enableAutoPipelining: true });
appRedis.on('error', redisProblem);
const app = await buildApp({
  db,
  queues,
  redis: appRedis,
  redisPrefix: config.HOOKRELAY_REDIS_PREFIX,
  publicUrl: config.HOOKRELAY_PUBLIC_URL,
  adminToken: config.ADMIN_TOKEN,
  logger,
  limits: apiLimitsFromConfig(config),
});

if (config.adminTokenGenerated) {
  // Printed, not logged: it is for the person at the terminal, and logs must never hold secrets.
  console.log(`\nADMIN_TOKEN was not set; this process uses the generated token:\n\n  ${config.ADMIN_TOKEN}\n`);
}
await app.listen({ port: config.PORT, host: config.HOST });

onShutdown(logger, async () => {
  await app.close();
  await queues.close();
  await redis.quit().catch(() => redis.disconnect());
  await appRedis.quit().catch(() => appRedis.disconnect());
  await db.close();
});
