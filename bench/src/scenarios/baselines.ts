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
  /** The naive worker's own CPU per job while it drained (user + system, ms). */
  cpuMsPerJob?: number;
}

interface Finished<T> {
  result: T;
}
const isResult = <T>(m: unknown): m is Finished<T> => typeof m === 'object' && m !== null && 'result' in m;
const isReady = (m: unknown): m is { port: number } => typeof m === 'object' && m !== null && 'port' in m;

async function runToEnd<T extends { count: number; perSecond: number; latency: Percentiles }>(child: Child): Promise<T & { peakRssMiB: number }> {
  const sampler = setInterval(() => child.peakRss(), 500);
  try {
    const { result } = await child.message<Finished<T>>(isResult);
    return { ...result, perSecond: Math.round(result.perSecond), peakRssMiB: child.peakRss() };
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

/** Naive BullMQ: addBulk, then one worker posting each job; no database. */
export async function naiveBullmq(ctx: Context): Promise<DeliveryBaseline> {
  ctx.log(`baseline naive BullMQ: ${ctx.opts.naiveCount} jobs, one worker at concurrency ${ctx.opts.concurrency}`);
  const sandbox = await ctx.sandboxes.open();
  try {
    const args = { url: ctx.receiver.url, count: ctx.opts.naiveCount, concurrency: ctx.opts.concurrency, redisUrl: REDIS_URL, prefix: sandbox.redisPrefix };
    const result = await runToEnd<DeliveryBaseline>(spawnEntry('naive-bullmq', 'naive-bullmq', {}, [JSON.stringify(args)]));
    return { ...result, redisBytesPerJob: Math.round(result.redisBytesPerJob ?? 0), cpuMsPerJob: Math.round((result.cpuMsPerJob ?? 0) * 1000) / 1000 };
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
