import { cpus, totalmem } from 'node:os';
import type { BenchOptions } from './context.ts';
import type { DeliveryBaseline, IngestBaseline } from './scenarios/baselines.ts';
import type { BacklogRun } from './scenarios/backlog.ts';
import type { DeliveryRun } from './scenarios/delivery.ts';
import type { E2eRun } from './scenarios/e2e.ts';
import type { IngestRun } from './scenarios/ingest.ts';
import type { NoisyRun } from './scenarios/noisy.ts';
import { median, round } from './stats.ts';

/** Raw HTTP and naive BullMQ, then our runs, back to back: each run's ratios are to its own round's baselines. */
export interface DeliveryRound {
  rawHttp?: DeliveryBaseline;
  naiveBullmq?: DeliveryBaseline;
  /** Naive BullMQ inserting each attempt as a row: a reference, never a target. */
  naiveRecording?: DeliveryBaseline;
  runs: DeliveryRun[];
}

export interface Results {
  fastifyHello?: IngestBaseline;
  naiveIngest?: IngestBaseline;
  delivery?: DeliveryRound[];
  ingest?: IngestRun;
  e2e?: E2eRun[];
  backlog?: BacklogRun;
  /** One run per round (`noisyRounds`), each on a fresh stack. */
  noisy?: NoisyRun[];
}

export interface Target {
  name: string;
  measured: number;
  target: string;
  met: boolean;
}

const peak = (levels: { perSecond: number }[] | undefined) => Math.max(0, ...(levels ?? []).map((l) => l.perSecond));
const ratio = (a: number, b: number | undefined) => (b ? round(a / b) : 0);
const cpuTotal = (perUnit: Record<string, number>) => Object.values(perUnit).reduce((a, b) => a + b, 0);

/** Per round, the least `of` among its one-worker runs (the slowest, for throughput) over `base` of that round; rounds without either are left out. */
function roundRatios(r: Results, of: (d: DeliveryRun) => number, base: (round: DeliveryRound) => number | undefined): number[] {
  return (r.delivery ?? []).flatMap((round) => {
    const oneWorker = round.runs.filter((d) => d.workers === 1);
    const b = base(round);
    return b && oneWorker.length > 0 ? [ratio(Math.min(...oneWorker.map(of)), b)] : [];
  });
}

const medianOf = (ratios: number[]) => (ratios.length > 1 ? `, median of ${ratios.length} rounds` : '');

/** Each target of the benchmark, judged on figures from this same run. */
export function targets(r: Results): Target[] {
  const out: Target[] = [];
  // Each round's slowest one-worker run over that round's baseline; the median of the rounds.
  const deliveryTarget = (baseline: (round: DeliveryRound) => DeliveryBaseline | undefined, name: string, wanted: number) => {
    const ratios = roundRatios(r, (d) => d.perSecond, (round) => baseline(round)?.perSecond);
    if (ratios.length === 0) return;
    const x = median(ratios);
    out.push({ name: `delivery (1 worker, slowest fan-out${medianOf(ratios)}) ÷ ${name}`, measured: x, target: `≥ ${wanted.toFixed(1)}×`, met: x >= wanted });
  };
  deliveryTarget((round) => round.naiveBullmq, 'naive BullMQ', 1);
  deliveryTarget((round) => round.rawHttp, 'raw HTTP', 0.5);
  if (r.ingest) {
    const ours = peak(r.ingest.levels);
    if (r.naiveIngest) {
      const x = ratio(ours, peak(r.naiveIngest.levels));
      out.push({ name: 'ingest peak ÷ naive ingest peak', measured: x, target: '≥ 2.0×', met: x >= 2 });
    }
    if (r.fastifyHello) {
      const x = ratio(ours, peak(r.fastifyHello.levels));
      out.push({ name: 'ingest peak ÷ Fastify hello peak', measured: x, target: '≥ 0.4×', met: x >= 0.4 });
    }
  }
  const fastest = (r.e2e ?? []).at(-1);
  if (fastest) {
    // Events still pending after the run are slower than any percentile shown: no target is met then.
    const all = fastest.undelivered === 0;
    out.push({ name: `e2e p50 at ${fastest.rate}/s (ms)`, measured: fastest.fromAccepted.p50, target: '≤ 10', met: all && fastest.fromAccepted.p50 <= 10 });
    out.push({ name: `e2e p99 at ${fastest.rate}/s (ms)`, measured: fastest.fromAccepted.p99, target: '≤ 50', met: all && fastest.fromAccepted.p99 <= 50 });
  }
  if (r.noisy && r.noisy.length > 0) {
    const x = median(r.noisy.map((n) => n.p99Ratio));
    const of = r.noisy.length > 1 ? ` (median of ${r.noisy.length} rounds)` : '';
    out.push({ name: `healthy p99 with ÷ without noisy neighbour${of}`, measured: x, target: '≤ 2.0×', met: x <= 2 });
  }
  if (r.backlog) {
    // The target is in MB (10^6 bytes); RSS is reported in MiB everywhere else.
    const peakMB = Math.round(r.backlog.workerPeakRssMiB * 1.048576);
    out.push({ name: `worker peak RSS over ${r.backlog.queued} backlog (MB)`, measured: peakMB, target: '≤ 300', met: peakMB <= 300 });
    out.push({ name: 'Redis bytes per queued delivery', measured: r.backlog.redisBytesPerDelivery, target: '≤ 1024', met: r.backlog.redisBytesPerDelivery <= 1024 });
  }
  return out;
}

export interface Reference {
  name: string;
  measured: number;
}

/**
 * Figures shown beside the targets to read them by, never judged: delivery against a naive worker
 * that records its attempts too, and the CPU a delivery costs every process together (less is
 * better) against what a naive job costs them.
 */
export function references(r: Results): Reference[] {
  const out: Reference[] = [];
  const recording = roundRatios(r, (d) => d.perSecond, (round) => round.naiveRecording?.perSecond);
  if (recording.length > 0) out.push({ name: `delivery (1 worker, slowest fan-out${medianOf(recording)}) ÷ naive BullMQ recording attempts`, measured: median(recording) });
  // Costs negated, so that the least of them is the costliest run's (the ratio of two negatives is the ratio of the costs).
  const cpu = roundRatios(r, (d) => -cpuTotal(d.cpuMsPerDelivery), (round) => (round.naiveBullmq ? -cpuTotal(round.naiveBullmq.cpuMsPerDelivery) : undefined));
  if (cpu.length > 0) out.push({ name: `CPU per delivery, all processes (1 worker, costliest fan-out${medianOf(cpu)}) ÷ naive BullMQ's`, measured: median(cpu) });
  return out;
}

/** Every scenario's ledger problems; any one voids the run. */
export function problems(r: Results): string[] {
  const named = (name: string, list: string[] | undefined) => (list ?? []).map((p) => `${name}: ${p}`);
  return [
    ...(r.delivery ?? []).flatMap((round, i) => round.runs.flatMap((d) => named(`delivery round ${i + 1}, fan-out ${d.fanout} × ${d.workers} worker(s)`, d.problems))),
    ...named('ingest', r.ingest?.problems),
    ...(r.e2e ?? []).flatMap((e) => named(`e2e ${e.rate}/s`, e.problems)),
    ...named('backlog', r.backlog?.problems),
    ...named('noisy neighbour', r.noisy?.flatMap((n) => n.problems)),
  ];
}

export function machine() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

/** Worker processes summed, then the API, Postgres, Redis, the bench itself, the total and how busy the machine was. */
function cpuColumns(perUnit: Record<string, number>, busyPct: number, withApi: boolean): (string | number)[] {
  const workers = Object.entries(perUnit).filter(([name]) => name.startsWith('worker')).reduce((sum, [, ms]) => sum + ms, 0);
  const two = (x: number) => Math.round(x * 100) / 100;
  return [two(workers), withApi ? (perUnit.api ?? 0) : '', perUnit.postgres ?? 0, perUnit.redis ?? 0, perUnit.bench ?? 0, two(cpuTotal(perUnit)), busyPct];
}

function table(title: string, header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [`\n${title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const rss = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ');

export function render(r: Results, opts: BenchOptions): string {
  const out: string[] = [];
  const deliveryRows: (string | number)[][] = [];
  const cpuRows: (string | number)[][] = [];
  const rounds = r.delivery ?? [];
  rounds.forEach((round, i) => {
    const label = (name: string) => (rounds.length > 1 ? `${name}, round ${i + 1}` : name);
    const base = round.naiveBullmq?.perSecond;
    const raw = round.rawHttp?.perSecond;
    const recording = round.naiveRecording?.perSecond;
    const baselines: [string, DeliveryBaseline | undefined][] = [
      ['raw HTTP (baseline)', round.rawHttp],
      ['naive BullMQ (baseline)', round.naiveBullmq],
      ['naive BullMQ recording attempts (reference)', round.naiveRecording],
    ];
    for (const [name, b] of baselines) {
      if (!b) continue;
      deliveryRows.push([label(name), b.perSecond, ratio(b.perSecond, base), ratio(b.perSecond, raw), ratio(b.perSecond, recording), b.latency.p50, b.latency.p99, `${b.peakRssMiB}`]);
      cpuRows.push([label(name), ...cpuColumns(b.cpuMsPerDelivery, b.machineBusyPct, false)]);
    }
    for (const d of round.runs) {
      const name = label(`hookrelay fan-out ${d.fanout}, ${d.workers} worker${d.workers > 1 ? 's' : ''}`);
      deliveryRows.push([name, d.perSecond, ratio(d.perSecond, base), ratio(d.perSecond, raw), ratio(d.perSecond, recording), d.attemptMs.p50, d.attemptMs.p99, rss(d.peakRssMiB)]);
      cpuRows.push([name, ...cpuColumns(d.cpuMsPerDelivery, d.machineBusyPct, false)]);
    }
  });
  if (deliveryRows.length > 0) {
    out.push(table(`Delivery throughput (concurrency ${opts.concurrency} per process; Hookrelay records every attempt in Postgres; ratios to the same round's baselines)`, ['run', 'deliveries/s', '× naive', '× raw', '× recording', 'HTTP p50 ms', 'HTTP p99 ms', 'peak RSS MiB'], deliveryRows));
  }
  if (cpuRows.length > 0) {
    out.push(table("CPU per delivery while draining (ms of user + system time; worker(s) = a baseline's own process; bench = the receiver)", ['run', 'worker(s)', 'api', 'postgres', 'redis', 'bench', 'total', 'machine busy %'], cpuRows));
  }
  const ingestRows: (string | number)[][] = [];
  const ingestCpuRows: (string | number)[][] = [];
  const levelRows = (name: string, b: IngestBaseline | undefined) => {
    for (const l of b?.levels ?? []) {
      ingestRows.push([name, l.concurrency, l.perSecond, l.latency.p50, l.latency.p99, l.non2xx + l.errors, b!.peakRssMiB]);
      const c = l.cpuMsPerRequest;
      const total = Math.round(Object.values(c).reduce((a, x) => a + x, 0) * 100) / 100;
      ingestCpuRows.push([name, l.concurrency, c.server ?? 0, c.postgres ?? 0, c.redis ?? 0, c.bench ?? 0, total, l.machineBusyPct]);
    }
  };
  levelRows('Fastify hello (baseline)', r.fastifyHello);
  levelRows('naive ingest (baseline)', r.naiveIngest);
  levelRows('hookrelay POST /v1/events', r.ingest);
  if (ingestRows.length > 0) out.push(table('Ingest (autocannon, 1 KiB events; Hookrelay answers 202 after commit)', ['server', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'refused', 'peak RSS MiB'], ingestRows));
  if (ingestCpuRows.length > 0) out.push(table('CPU per request answered 2xx (ms of user + system time; bench = autocannon)', ['server', 'connections', 'server', 'postgres', 'redis', 'bench', 'total', 'machine busy %'], ingestCpuRows));
  if (r.e2e?.length) {
    out.push(table('End-to-end latency (open loop, fan-out 1, one worker): 202 → receiver first byte', ['rate/s', 'achieved', 'events', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'sent→byte p99', 'still pending', 'peak RSS MiB'],
      r.e2e.map((e) => [e.rate, e.achievedRate, e.published, e.fromAccepted.p50, e.fromAccepted.p95, e.fromAccepted.p99, e.fromAccepted.max, e.fromSent.p99, e.undelivered, rss(e.peakRssMiB)])));
    out.push(table('CPU per event end to end (ms of user + system time; bench = the load generator and the receiver)', ['rate/s', 'worker(s)', 'api', 'postgres', 'redis', 'bench', 'total', 'machine busy %', 'events/commit'],
      r.e2e.map((e) => [e.rate, ...cpuColumns(e.cpuMsPerEvent, e.machineBusyPct, true), e.publishesPerCommit])));
  }
  if (r.backlog) {
    const b = r.backlog;
    const rssSeries = b.workerRssMiB;
    out.push(table('Backlog and memory', ['queued', 'Redis B/delivery', 'worker RSS first/last/peak MiB', 'drained', 'drained/s', 'naive BullMQ B/job'],
      [[b.queued, b.redisBytesPerDelivery, `${rssSeries[0] ?? 0}/${rssSeries.at(-1) ?? 0}/${b.workerPeakRssMiB}`, b.drained, b.drainedPerSecond, r.delivery?.at(-1)?.naiveBullmq?.redisBytesPerJob ?? '-']]));
  }
  if (r.noisy && r.noisy.length > 0) {
    const rounds = r.noisy;
    const label = (i: number, what: string) => (rounds.length > 1 ? `round ${i + 1}: ${what}` : what);
    out.push(table(`Noisy neighbour (${rounds[0]!.rate} events/s, 90 % to an endpoint that never answers): healthy endpoints' 202 → first byte`, ['traffic', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'p99 ÷ healthy only'],
      rounds.flatMap((n, i) => [
        [label(i, 'healthy only (10 % of the rate)'), n.quiet.p50, n.quiet.p95, n.quiet.p99, n.quiet.max, ''],
        [label(i, 'healthy at the full rate, no neighbour'), n.sameLoad.p50, n.sameLoad.p95, n.sameLoad.p99, n.sameLoad.max, ratio(n.sameLoad.p99, n.quiet.p99)],
        [label(i, 'with noisy neighbour (90 % of the rate)'), n.noisy.p50, n.noisy.p95, n.noisy.p99, n.noisy.max, n.p99Ratio],
      ])));
    out.push(table('CPU per event published in each noisy-neighbour phase (ms of user + system time)', ['traffic', 'worker(s)', 'api', 'postgres', 'redis', 'bench', 'total', 'machine busy %'],
      rounds.flatMap((n, i) => [
        [label(i, 'healthy only'), ...cpuColumns(n.cpu.quiet.msPerEvent, n.cpu.quiet.machineBusyPct, true)],
        [label(i, 'healthy at the full rate'), ...cpuColumns(n.cpu.sameLoad.msPerEvent, n.cpu.sameLoad.machineBusyPct, true)],
        [label(i, 'with noisy neighbour'), ...cpuColumns(n.cpu.noisy.msPerEvent, n.cpu.noisy.machineBusyPct, true)],
      ])));
  }
  const refs = references(r);
  if (refs.length > 0) out.push(table('For reference (not targets)', ['figure', 'measured'], refs.map((x) => [x.name, x.measured])));
  const t = targets(r);
  if (t.length > 0) out.push(table('Targets', ['target', 'measured', 'wanted', 'met'], t.map((x) => [x.name, x.measured, x.target, x.met ? 'yes' : 'NO'])));
  return out.join('\n');
}
