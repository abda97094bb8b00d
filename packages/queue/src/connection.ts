import { Redis, type RedisOptions } from 'ioredis';

/**
 * The key prefix of every queue, wrapped in a Redis Cluster hash tag so all of a queue's keys
 * (and those of our limiters) land in one slot: the same code runs on one server or a cluster.
 */
export const queuePrefix = (name: string): string => `{${name}}`;

/**
 * Workers block on Redis and must wait out outages (`maxRetriesPerRequest: null`, as BullMQ
 * requires). Producers in request paths fail fast instead, so an API call never hangs on Redis:
 * what they could not enqueue is recovered from Postgres by the reconciler.
 */
export function createRedis(url: string, role: 'worker' | 'producer', extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 };
  return new Redis(url, { ...options, ...extra, lazyConnect: false });
}
