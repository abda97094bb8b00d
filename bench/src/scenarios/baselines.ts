import type { Context } from '../context.ts';
import { REDIS_URL } from '../infra.ts';
import { perUnit, startCpuWindow } from '../cpu.ts';
import { closedLoop, type ClosedLoopResult } from '../load.ts';
import { publishBody } from '../payload.ts';
import { spawnEntry, type Child } from '../processes.ts';
import type { Percentiles } from '../stats.ts';

export interface DeliveryBaseline {
  count: number;
  perSecond: number;
  latency: Percentiles;
  peakRssMiB: number;
  redisBytesPerJob?: number;
  /**
   * CPU ms per delivery while it drained (user + system), as for our runs: `worker` (the baseline's
   * own process), postgres, redis, bench (the receiver).
   */
  cpuMsPerDelivery: Record<string, number>;
  machineBusyPct: number;
}

interface Finished<T> {
  result: T;
}
const isResult = <T>(m: unknown): m is Finished<T> => typeof m === 'object' && m !== null && 'result' in m;
const isDraining = (m: unknown): m is { draining: true } => typeof m === 'object' && m !== null && 'draining' in m;
const isDrained = (m: unknown): m is { drained: true } => typeof m === 'object' && m !== null && 'drained' in m;
const isReady = (m: unknown): m is { port: number } => typeof m === 'object' && m !== null && 'port' in m;

type Drained = { count: number; perSecond: number; latency: Percentiles; redisBytesPerJob?: number; recorded?: number };

/** Runs a delivery baseline to its end, measuring every process's CPU from its `draining` message to `drained`. */
async function runToEnd(child: Child): Promise<DeliveryBaseline & { recorded?: number }> {
  const sampler = setInterval(() => child.peakRss(), 500);
  try {
    // Listening for all three from the start: the messages may come in one read.
    const [draining, drained, finished] = [child.message(isDraining), child.message(isDrained), child.message<Finished<Drained>>(isResult)];
    // A child that dies early fails the first wait; the others are awaited after it.
    for (const p of [drained, finished]) p.catch(() => {});
    await draining;
    const cpu = startCpuWindow({ worker: child.process.pid });
    await drained;
    const used = cpu.stop();
    const { result } = await finished;
    return {
      ...result,
      perSecond: Math.round(result.perSecond),
      peakRssMiB: child.peakRss(),
      cpuMsPerDelivery: perUnit(used, result.count),
      machineBusyPct: used.machineBusyPct,
      ...(result.redisBytesPerJob === undefined ? {} : { redisBytesPerJob: Math.round(result.redisBytesPerJob) }),
    };
  } finally {
    clearInterval(sampler);
    await child.stop();
  }
}

/** Raw HTTP: signed 1 KiB posts straight to the receiver. */
export async function rawHttp(ctx: Context): Promise<DeliveryBaseline> {
  ctx.log(`baseline raw HTTP: ${ctx.opts.rawCount} posts at concurrency ${ctx.opts.concurrency}`);
  const args = { url: ctx.receiver.url, count: ctx.opts.rawCount, concurrency: ctx.opts.concurrency };
  return runToEnd(spawnEntry('raw-http', 'raw-http', {}, [JSON.stringify(args)]));
}

/**
 * Naive BullMQ: addBulk, then one worker posting each job; no database. With `recording`, each
 * job also inserts its attempt as a row (a reference figure: what recording costs a hand-rolled worker).
 */
export async function naiveBullmq(ctx: Context, recording = false): Promise<DeliveryBaseline> {
  const count = recording ? ctx.opts.naiveRecordingCount : ctx.opts.naiveCount;
  ctx.log(`baseline naive BullMQ${recording ? ' recording attempts' : ''}: ${count} jobs, one worker at concurrency ${ctx.opts.concurrency}`);
  const sandbox = await ctx.sandboxes.open();
  try {
    const args = { url: ctx.receiver.url, count, concurrency: ctx.opts.concurrency, redisUrl: REDIS_URL, prefix: sandbox.redisPrefix, ...(recording ? { databaseUrl: sandbox.databaseUrl } : {}) };
    const { recorded, ...result } = await runToEnd(spawnEntry('naive-bullmq', 'naive-bullmq', {}, [JSON.stringify(args)]));
    if (recording && recorded !== count) throw new Error(`naive BullMQ recorded ${recorded} attempts for ${count} jobs`);
    return result;
  } finally {
    await sandbox.drop();
  }
}

/** One concurrency level, with the CPU each process spent per request answered 2xx. */
export interface IngestLevel extends ClosedLoopResult {
  /** ms of user + system time per 2xx answer: `server`, postgres, redis, bench (autocannon). */
  cpuMsPerRequest: Record<string, number>;
  /** Share of the machine's two cores that was busy, in %. */
  machineBusyPct: number;
}

export interface IngestBaseline {
  levels: IngestLevel[];
  peakRssMiB: number;
}

/** Drives an ingest server (process `serverPid`) at each concurrency level, after an unrecorded warm-up. */
export async function driveIngest(ctx: Context, url: string, headers: Record<string, string>, serverPid: number | undefined): Promise<IngestLevel[]> {
  const body = publishBody('bench.ingest');
  if (ctx.opts.warmupSeconds > 0) await closedLoop(url, { concurrency: ctx.opts.ingestLevels[0]!, seconds: ctx.opts.warmupSeconds, body, headers });
  const levels: IngestLevel[] = [];
  for (const concurrency of ctx.opts.ingestLevels) {
    const cpu = startCpuWindow({ server: serverPid });
    const level = await closedLoop(url, { concurrency, seconds: ctx.opts.ingestSeconds, body, headers });
    const used = cpu.stop();
    levels.push({ ...level, cpuMsPerRequest: perUnit(used, level.ok), machineBusyPct: used.machineBusyPct });
  }
  return levels;
}

async function ingestServer(ctx: Context, child: Child): Promise<IngestBaseline> {
  try {
    const { port } = await child.message(isReady, 60_000);
    const levels = await driveIngest(ctx, `http://127.0.0.1:${port}/v1/events`, {}, child.process.pid);
    return { levels, peakRssMiB: child.peakRss() };
  } finally {
    await child.stop();
  }
}

export function fastifyHello(ctx: Context): Promise<IngestBaseline> {
  ctx.log('baseline Fastify hello');
  return ingestServer(ctx, spawnEntry('fastify-hello', 'fastify-hello', {}));
}

export async function naiveIngest(ctx: Context): Promise<IngestBaseline> {
  ctx.log('baseline naive ingest (insert + queue.add per request)');
  const sandbox = await ctx.sandboxes.open();
  try {
    const args = { databaseUrl: sandbox.databaseUrl, redisUrl: REDIS_URL, prefix: sandbox.redisPrefix };
    return await ingestServer(ctx, spawnEntry('naive-ingest', 'naive-ingest', {}, [JSON.stringify(args)]));
  } finally {
    await sandbox.drop();
  }
}
