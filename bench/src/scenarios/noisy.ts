import type { Context } from '../context.ts';
import { perUnit, startCpuWindow } from '../cpu.ts';
import { ledgerProblems, readLedger } from '../ledger.ts';
import { createTenant } from '../seed.ts';
import { startStack } from '../services.ts';
import { percentiles, round, sleep, type Percentiles } from '../stats.ts';
import { publishAndMeasure } from './latency.ts';

export interface NoisyRun {
  rate: number;
  /** Healthy endpoints' latency (202 → first byte) with only their own traffic. */
  quiet: Percentiles;
  /** The same, while 90 % of all traffic goes to an endpoint that never answers. */
  noisy: Percentiles;
  /** noisy p99 / quiet p99: the target's measure. */
  p99Ratio: number;
  /**
   * The healthy endpoints taking the whole rate themselves, with no hanging endpoint: what the
   * extra load alone costs on this machine, to tell it apart from what the neighbour costs.
   */
  sameLoad: Percentiles;
  /** noisy p99 / sameLoad p99. */
  p99RatioToSameLoad: number;
  /** Per phase: CPU ms per published event for each process, and how busy the machine was. */
  cpu: Record<'quiet' | 'sameLoad' | 'noisy', { msPerEvent: Record<string, number>; machineBusyPct: number }>;
  peakRssMiB: Record<string, number>;
  problems: string[];
}

const HEALTHY = 3;

/**
 * `noisyRounds` runs of `noisyRun`, each on a stack and database of its own: a round after another
 * on the same stack would start beside the last one's neighbour backlog, its healthy-only phase
 * included.
 */
export async function noisyRounds(ctx: Context): Promise<NoisyRun[]> {
  const rounds: NoisyRun[] = [];
  for (let i = 0; i < ctx.opts.noisyRounds; i++) rounds.push(await noisyRun(ctx));
  return rounds;
}

/**
 * Noisy neighbour: one tenant, three healthy endpoints and one that times out, all with the
 * default per-endpoint protection. First the healthy share of the traffic alone, then the same
 * share beside nine times as much for the endpoint that never answers.
 */
export async function noisyRun(ctx: Context): Promise<NoisyRun> {
  const rate = ctx.opts.noisyRate;
  ctx.log(`noisy neighbour: ${rate} events/s, 90 % to an endpoint that times out`);
  const { sandbox, api, children, stop } = await startStack(ctx, 1);
  ctx.receiver.reset();
  ctx.receiver.recordArrivals = true;
  try {
    const tenant = await createTenant(api, [
      ...Array.from({ length: HEALTHY }, (_, i) => ({ url: `${ctx.receiver.url}/healthy/${i}`, eventTypes: [`healthy.${i}`] })),
      { url: `${ctx.receiver.url}/hang/0`, eventTypes: ['noisy.*'] },
    ]);
    const healthy = (i: number) => `healthy.${i % HEALTHY}`;
    const isHealthy = (type: string) => type.startsWith('healthy.');
    const seconds = ctx.opts.noisySeconds;
    const warm = Math.max(1, ctx.opts.warmupSeconds);
    await publishAndMeasure(ctx, api.baseUrl, tenant.apiKey, { rate: rate / 10, seconds: warm, typeOf: healthy });
    const cpu = {} as NoisyRun['cpu'];
    const phase = async (name: keyof NoisyRun['cpu'], opts: Parameters<typeof publishAndMeasure>[3]) => {
      const window = startCpuWindow(Object.fromEntries(children.map((c) => [c.name, c.process.pid])));
      const m = await publishAndMeasure(ctx, api.baseUrl, tenant.apiKey, opts);
      const used = window.stop();
      cpu[name] = { msPerEvent: perUnit(used, m.published.accepted.size), machineBusyPct: used.machineBusyPct };
      return m;
    };
    const quiet = await phase('quiet', { rate: rate / 10, seconds, typeOf: healthy });
    const sameLoad = await phase('sameLoad', { rate, seconds, typeOf: healthy });
    const noisy = await phase('noisy', {
      rate,
      seconds,
      typeOf: (i) => (i % 10 === 0 ? healthy(i / 10) : 'noisy.timeout'),
      mustArrive: isHealthy,
    });
    await sleep(500);
    const events = [quiet, sameLoad, noisy].reduce((n, m) => n + m.published.accepted.size, 0) + Math.round((rate / 10) * warm);
    const ledger = await readLedger(sandbox.databaseUrl, tenant.id);
    const problems = ledgerProblems({ events: ledger.events, deliveries: ledger.owed }, ledger, { deadAllowed: true });
    if (ledger.events < events) problems.push(`${events} events answered 202 but ${ledger.events} stored`);
    const missing = quiet.missing + sameLoad.missing + noisy.missing;
    if (missing > 0) problems.push(`${missing} healthy deliveries never reached the receiver`);
    const q = percentiles(quiet.fromAccepted);
    const n = percentiles(noisy.fromAccepted);
    const same = percentiles(sameLoad.fromAccepted);
    return {
      rate,
      quiet: q,
      noisy: n,
      p99Ratio: q.p99 > 0 ? round(n.p99 / q.p99) : 0,
      sameLoad: same,
      p99RatioToSameLoad: same.p99 > 0 ? round(n.p99 / same.p99) : 0,
      cpu,
      peakRssMiB: Object.fromEntries(children.map((c) => [c.name, c.peakRss()])),
      problems,
    };
  } finally {
    ctx.receiver.recordArrivals = false;
    await stop();
  }
}
