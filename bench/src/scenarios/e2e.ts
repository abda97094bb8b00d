import { metricValue, scrapeMetrics } from '@hookrelay/testing/metrics';
import type { Context } from '../context.ts';
import { perUnit, startCpuWindow } from '../cpu.ts';
import { ledgerProblems, readLedger } from '../ledger.ts';
import { createTenant } from '../seed.ts';
import { startStack } from '../services.ts';
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
  /**
   * Accepted events still pending when the wait after the run ended (30 s): the pipeline could
   * not keep up. They are in the ledger as pending, but the percentiles above leave them out, so
   * a run with any of them does not meet the latency target.
   */
  undelivered: number;
  peakRssMiB: Record<string, number>;
  /** CPU ms per published event, per process (api, worker 1, postgres, redis, bench: the load generator and receiver). */
  cpuMsPerEvent: Record<string, number>;
  /** Share of the machine's two cores that was busy, in %. */
  machineBusyPct: number;
  /**
   * Publishes per committed transaction (the API's hookrelay_publish_batch_events): each
   * transaction is a statement, an addBulk and a batch job, so at a fixed rate it sets how many
   * messages every process handles per event.
   */
  publishesPerCommit: number;
  problems: string[];
}

/** Open-loop publishing at fixed rates through the API and one worker process, fan-out 1. */
export async function e2eRuns(ctx: Context): Promise<E2eRun[]> {
  ctx.log(`end-to-end latency at ${ctx.opts.e2eRates.join(', ')} events/s`);
  const { sandbox, api, children, stop } = await startStack(ctx, 1);
  ctx.receiver.reset();
  ctx.receiver.recordArrivals = true;
  const runs: E2eRun[] = [];
  try {
    // All the traffic goes to one endpoint: its in-flight cap is raised (as in the throughput
    // scenario), or the default of 10 concurrent requests would be what is measured.
    const sub = (tag: string) => [{ url: `${ctx.receiver.url}/e2e/${tag}`, eventTypes: ['bench.*'], maxInFlight: 1000 }];
    // Unrecorded warm-up at each rate, as the ingest scenario warms each level: the targets are
    // for a steady rate. A step from 100/s straight to 1,000/s spent its first 1.5–2.5 s with 202s
    // taking a median of 78–278 ms while every process settled into the new load, and those
    // seconds alone set the p99 of a 15 s run (see change 55 in docs/performance.md).
    const warm = await createTenant(api, sub('warm'));
    for (const rate of ctx.opts.e2eRates) {
      await publishAndMeasure(ctx, api.baseUrl, warm.apiKey, { rate, seconds: Math.max(1, ctx.opts.warmupSeconds), typeOf: () => 'bench.warm' });
      const tenant = await createTenant(api, sub(String(rate)));
      const commitsBefore = await publishCommits(api.baseUrl);
      const cpu = startCpuWindow(Object.fromEntries(children.map((c) => [c.name, c.process.pid])));
      const m = await publishAndMeasure(ctx, api.baseUrl, tenant.apiKey, { rate, seconds: ctx.opts.e2eSeconds, typeOf: () => 'bench.e2e' });
      await sleep(500); // the last attempts' group commit
      const used = cpu.stop();
      const commitsAfter = await publishCommits(api.baseUrl);
      const n = m.published.accepted.size;
      const ledger = await readLedger(sandbox.databaseUrl, tenant.id);
      const problems = ledgerProblems({ events: n, deliveries: n }, ledger);
      if (m.published.failed > 0) problems.push(`${m.published.failed} publishes were not answered 202`);
      if (ledger.succeeded + m.missing < n) problems.push(`${n - ledger.succeeded} deliveries not recorded as succeeded, though only ${m.missing} are missing at the receiver`);
      runs.push({
        rate,
        achievedRate: m.published.achievedRate,
        published: n,
        fromAccepted: percentiles(m.fromAccepted),
        fromSent: percentiles(m.fromSent),
        undelivered: m.missing,
        peakRssMiB: Object.fromEntries(children.map((c) => [c.name, c.peakRss()])),
        cpuMsPerEvent: perUnit(used, n),
        machineBusyPct: used.machineBusyPct,
        publishesPerCommit: round1((commitsAfter.publishes - commitsBefore.publishes) / Math.max(1, commitsAfter.commits - commitsBefore.commits)),
        problems,
      });
    }
    return runs;
  } finally {
    ctx.receiver.recordArrivals = false;
    await stop();
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The API's publish transactions so far and the publishes they held, from its /metrics. */
async function publishCommits(baseUrl: string): Promise<{ commits: number; publishes: number }> {
  const samples = await scrapeMetrics(`${baseUrl}/metrics`);
  return {
    commits: metricValue(samples, 'hookrelay_publish_batch_events_count') ?? 0,
    publishes: metricValue(samples, 'hookrelay_publish_batch_events_sum') ?? 0,
  };
}
