import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { queuePrefix } from '@hookrelay/queue';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test uses, so test files can share one Redis server in parallel. */
export const testPrefix = (): string => `hrtest-${randomBytes(5).toString('hex')}`;

export async function deleteRedisKeys(prefixName: string): Promise<number> {
  const redis = new Redis(TEST_REDIS_URL);
  let deleted = 0;
  try {
    const stream = redis.scanStream({ match: `${queuePrefix(prefixName)}*`, count: 500 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}
