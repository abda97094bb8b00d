import type { Context } from '../context.ts';
import { ledgerProblems, readLedger } from '../ledger.ts';
import { createTenant } from '../seed.ts';
import { serviceEnv, startApi, startWorkers } from '../services.ts';
import { percentiles, sleep, type Percentiles } from '../stats.ts';
import { publishAndMeasure } from './latency.ts';

export interface E2eRun {
  rate: number;
  achievedRate: number;
  published: number;
  /** 202 → receiver's first byte. */
  fromAccepted: Percentiles;
  /** Request sent → receiver's first byte (includes the publish itself). */
  fromSent: Percentiles;
  peakRssMiB: Record<string, number>;
  problems: string[];
}

/** Open-loop publishing at fixed rates through the API and one worker process, fan-out 1. */
export async function e2eRuns(ctx: Context): Promise<E2eRun[]> {
  ctx.log(`end-to-end latency at ${ctx.opts.e2eRates.join(', ')} events/s`);
  const sandbox = await ctx.sandboxes.open();
  const env = serviceEnv(sandbox, { HOOKRELAY_WORKER_CONCURRENCY: String(ctx.opts.concurrency) });
  const api = await startApi(env);
  const children = [api.child, ...startWorkers(env, 1)];
  ctx.receiver.reset();
  ctx.receiver.recordArrivals = true;
  const runs: E2eRun[] = [];
  try {
    const sub = (tag: string) => [{ url: `${ctx.receiver.url}/e2e/${tag}`, eventTypes: ['bench.*'] }];
    // Unrecorded warm-up: connections opened, code compiled, caches filled.
    const warm = await createTenant(api, sub('warm'));
    await publishAndMeasure(ctx, api.baseUrl, warm.apiKey, { rate: 100, seconds: Math.max(1, ctx.opts.warmupSeconds), typeOf: () => 'bench.warm' });
    for (const rate of ctx.opts.e2eRates) {
      const tenant = await createTenant(api, sub(String(rate)));
      const m = await publishAndMeasure(ctx, api.baseUrl, tenant.apiKey, { rate, seconds: ctx.opts.e2eSeconds, typeOf: () => 'bench.e2e' });
      await sleep(500); // the last attempts' group commit
      const n = m.published.accepted.size;
      const ledger = await readLedger(sandbox.databaseUrl, tenant.id);
      const problems = ledgerProblems({ events: n, deliveries: n }, ledger);
      if (m.published.failed > 0) problems.push(`${m.published.failed} publishes were not answered 202`);
      if (m.missing > 0) problems.push(`${m.missing} events never reached the receiver`);
      runs.push({
        rate,
        achievedRate: m.published.achievedRate,
        published: n,
        fromAccepted: percentiles(m.fromAccepted),
        fromSent: percentiles(m.fromSent),
        peakRssMiB: Object.fromEntries(children.map((c) => [c.name, c.peakRss()])),
        problems,
      });
    }
    return runs;
  } finally {
    ctx.receiver.recordArrivals = false;
    for (const c of children.reverse()) await c.stop();
    await sandbox.drop();
  }
}
