import type { Redis } from 'ioredis';

/**
 * Bytes Redis holds for the keys matching `pattern` (MEMORY USAGE of each, every element
 * counted): a figure of the scenario's own keys, which other users of a shared Redis (tests
 * running beside the smoke run) do not move, as they move INFO's used_memory.
 */
export async function redisKeysMemory(redis: Redis, pattern: string): Promise<number> {
  let bytes = 0;
  const stream = redis.scanStream({ match: pattern, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) {
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    for (const [, used] of (await pipeline.exec()) ?? []) bytes += Number(used ?? 0);
  }
  return bytes;
}
