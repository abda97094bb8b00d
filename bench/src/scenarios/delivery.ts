import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import type { Context } from '../context.ts';
import { perUnit, startCpuWindow } from '../cpu.ts';
import { ledgerProblems, readLedger } from '../ledger.ts';
import { createTenant, seedBacklog } from '../seed.ts';
import { startStack } from '../services.ts';
import { round, waitUntil, type Percentiles } from '../stats.ts';

export interface DeliveryRun {
  fanout: number;
  workers: number;
  deliveries: number;
  /** Deliveries per second, from the first request at a receiver to the last attempt committed. */
  perSecond: number;
  /** The HTTP attempts' own durations, as recorded in Postgres. */
  attemptMs: Percentiles;
  peakRssMiB: Record<string, number>;
  /** CPU ms per delivery, per process, while the backlog drained. */
  cpuMsPerDelivery: Record<string, number>;
  machineBusyPct: number;
  problems: string[];
}

async function attemptDurations(databaseUrl: string, tenantId: string): Promise<Percentiles> {
  const sql = postgres(databaseUrl, { max: 1 });
  try {
    const [r] = await sql<{ n: string; p50: number; p95: number; p99: number; max: number }[]>`
      select count(*) as n,
             percentile_cont(0.5) within group (order by duration_ms) as p50,
             percentile_cont(0.95) within group (order by duration_ms) as p95,
             percentile_cont(0.99) within group (order by duration_ms) as p99,
             max(duration_ms) as max
      from attempts where tenant_id = ${tenantId}`;
    return { count: Number(r!.n), p50: round(r!.p50 ?? 0), p95: round(r!.p95 ?? 0), p99: round(r!.p99 ?? 0), max: r!.max ?? 0 };
  } finally {
    await sql.end();
  }
}

/** 100k deliveries already queued, drained by `workers` worker processes, every attempt recorded. */
export async function deliveryRun(ctx: Context, fanout: number, workers: number): Promise<DeliveryRun> {
  ctx.log(`delivery: ${ctx.opts.deliveryCount} queued deliveries, fan-out ${fanout}, ${workers} worker process(es)`);
  const stack = await startStack(ctx);
  const { sandbox, api, children } = stack;
  try {
    // One endpoint takes the whole run: its in-flight cap is raised above the fleet's concurrency.
    const subs = Array.from({ length: fanout }, (_, i) => ({ url: `${ctx.receiver.url}/deliver/${i}`, eventTypes: ['bench.*'], maxInFlight: 1000 }));
    const tenant = await createTenant(api, subs);
    const total = await seedBacklog(sandbox.databaseUrl, sandbox.redisPrefix, tenant, Math.ceil(ctx.opts.deliveryCount / fanout));
    ctx.receiver.reset();
    stack.startWorkers(workers);
    // From the workers' start: their own start-up is in it, a few ms per delivery of 100k at most.
    const cpu = startCpuWindow(Object.fromEntries(children.filter((c) => c.name !== 'api').map((c) => [c.name, c.process.pid])));
    const sampler = setInterval(() => children.forEach((c) => c.peakRss()), 1000);
    const arrived = await waitUntil(() => ctx.receiver.count >= total, 30 * 60_000, 50);
    let recorded = false;
    if (arrived) {
      recorded = await waitUntil(async () => (await readLedger(sandbox.databaseUrl, tenant.id)).succeeded >= total, 120_000, 50);
    }
    const doneAt = performance.now();
    const used = cpu.stop();
    clearInterval(sampler);
    const elapsedMs = doneAt - ctx.receiver.firstAt;
    const ledger = await readLedger(sandbox.databaseUrl, tenant.id);
    const problems = ledgerProblems({ events: total / fanout, deliveries: total }, ledger);
    if (!arrived || !recorded) problems.push(`only ${ctx.receiver.count} of ${total} arrived, ${ledger.succeeded} recorded`);
    if (ledger.attempts !== total) problems.push(`${ledger.attempts} attempts recorded for ${total} deliveries`);
    return {
      fanout,
      workers,
      deliveries: total,
      perSecond: Math.round((total / elapsedMs) * 1000),
      attemptMs: await attemptDurations(sandbox.databaseUrl, tenant.id),
      peakRssMiB: Object.fromEntries(children.map((c) => [c.name, c.peakRss()])),
      cpuMsPerDelivery: perUnit(used, total),
      machineBusyPct: used.machineBusyPct,
      problems,
    };
  } finally {
    await stack.stop();
  }
}

