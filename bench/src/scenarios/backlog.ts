import { Redis } from 'ioredis';
import type { Context } from '../context.ts';
import { queuePrefix } from '@hookrelay/queue';
import { REDIS_URL } from '../infra.ts';
import { redisKeysMemory } from '../redis-memory.ts';
import { createTenant, seedBacklog } from '../seed.ts';
import { startStack } from '../services.ts';
import { sleep, waitUntil } from '../stats.ts';

export interface BacklogRun {
  queued: number;
  /** Redis memory of the scenario's keys (MEMORY USAGE) per queued delivery, in bytes. */
  redisBytesPerDelivery: number;
  /** Worker RSS (MiB) sampled each second while it drains the backlog. */
  workerRssMiB: number[];
  workerPeakRssMiB: number;
  drained: number;
  drainedPerSecond: number;
  problems: string[];
}

/** A large backlog (1M deliveries): what each costs Redis, and whether a worker's memory stays flat. */
export async function backlogRun(ctx: Context): Promise<BacklogRun> {
  const { backlogDeliveries: total, backlogFanout: fanout, backlogObserveSeconds: seconds } = ctx.opts;
  ctx.log(`backlog: ${total} queued deliveries (fan-out ${fanout}), one worker watched for ${seconds} s`);
  const stack = await startStack(ctx);
  const { sandbox, api } = stack;
  const redis = new Redis(REDIS_URL);
  try {
    const subs = Array.from({ length: fanout }, (_, i) => ({ url: `${ctx.receiver.url}/backlog/${i}`, eventTypes: ['bench.*'], maxInFlight: 1000 }));
    const tenant = await createTenant(api, subs);
    const keys = `${queuePrefix(sandbox.redisPrefix)}*`;
    const before = await redisKeysMemory(redis, keys);
    let shown = 0;
    const queued = await seedBacklog(sandbox.databaseUrl, sandbox.redisPrefix, tenant, Math.ceil(total / fanout), (n) => {
      if (n - shown >= 100_000) ctx.log(`  ${(shown = n)} queued`);
    });
    const after = await redisKeysMemory(redis, keys);
    ctx.receiver.reset();
    const [worker] = stack.startWorkers(1);
    // The window opens with the first delivery, not with the process (start-up takes a few seconds).
    await waitUntil(() => ctx.receiver.count > 0, 60_000, 50);
    const workerRssMiB: number[] = [];
    for (let s = 0; s < seconds; s++) {
      await sleep(1000);
      workerRssMiB.push(worker!.rss());
    }
    const drained = ctx.receiver.count;
    const window = (ctx.receiver.lastAt - ctx.receiver.firstAt) / 1000;
    const problems: string[] = [];
    if (drained === 0) problems.push('the worker delivered nothing');
    return {
      queued,
      redisBytesPerDelivery: Math.round((after - before) / queued),
      workerRssMiB,
      workerPeakRssMiB: worker!.peakRss(),
      drained,
      drainedPerSecond: window > 0 ? Math.round(drained / window) : 0,
      problems,
    };
  } finally {
    redis.disconnect();
    await stack.stop();
  }
}
