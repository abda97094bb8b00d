/**
 * pnpm bench [--smoke] [--only=baselines,delivery,ingest,e2e,backlog,noisy]
 *
 * Starts what it needs (the API, worker processes, receivers on 127.0.0.1, the baselines), drives
 * the load, prints a table and writes bench/results/<date>.json. Figures are meant as ratios to
 * the baselines measured in the same run, on the same machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FULL, SMOKE, type BenchOptions, type Context } from './context.ts';
import { Sandboxes } from './infra.ts';
import { buildBundles } from './processes.ts';
import { BenchReceiver } from './receiver.ts';
import { machine, problems, references, render, targets, type DeliveryRound, type Results } from './report.ts';
import { backlogRun } from './scenarios/backlog.ts';
import { fastifyHello, naiveBullmq, naiveIngest, rawHttp } from './scenarios/baselines.ts';
import { deliveryRun } from './scenarios/delivery.ts';
import { e2eRuns } from './scenarios/e2e.ts';
import { ingestRun } from './scenarios/ingest.ts';
import { noisyRounds } from './scenarios/noisy.ts';

const SCENARIOS = ['baselines', 'delivery', 'ingest', 'e2e', 'backlog', 'noisy'] as const;
const args = process.argv.slice(2).filter((a) => a !== '--');
const smoke = args.includes('--smoke');
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? onlyArg.slice('--only='.length).split(',') : [...SCENARIOS];
const unknown = args.filter((a) => a !== '--smoke' && !a.startsWith('--only=') && !a.startsWith('--out=') && !a.startsWith('--set='));
const badScenario = only.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
if (unknown.length > 0 || badScenario.length > 0) {
  console.error(`usage: pnpm bench [--smoke] [--only=${SCENARIOS.join(',')}] [--set=option=json …] [--out=file.json]`);
  process.exit(2);
}
const outArg = args.find((a) => a.startsWith('--out='))?.slice('--out='.length);

// --set=deliveryCount=20000 --set=fanouts=[1]: any option of context.ts, for a focused run.
const opts: BenchOptions = { ...(smoke ? SMOKE : FULL) };
for (const a of args.filter((x) => x.startsWith('--set='))) {
  const [name, value] = a.slice('--set='.length).split(/=(.*)/s) as [keyof BenchOptions, string];
  if (!(name in opts) || value === undefined) {
    console.error(`unknown option in ${a}; options: ${Object.keys(opts).join(', ')}`);
    process.exit(2);
  }
  (opts as unknown as Record<string, unknown>)[name] = JSON.parse(value);
}
const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
await buildBundles();
const sandboxes = await Sandboxes.create(opts.analyzeCheckMs);
const receiver = await new BenchReceiver().start();
const ctx: Context = { opts, sandboxes, receiver, log };
const results: Results = {};
const want = (s: (typeof SCENARIOS)[number]) => only.includes(s);

try {
  // Each pair of baselines runs just before the scenario it is compared with: the machine's speed
  // drifts over a run, and the ratios should compare minutes close together.
  if (want('baselines') || want('delivery')) {
    results.delivery = [];
    for (let i = 0; i < opts.deliveryRounds; i++) {
      const round: DeliveryRound = { runs: [] };
      if (want('baselines')) {
        round.rawHttp = await rawHttp(ctx);
        round.naiveBullmq = await naiveBullmq(ctx);
        round.naiveRecording = await naiveBullmq(ctx, true);
      }
      // The first worker count (one, by default) runs in every round; the others in the last.
      const last = i === opts.deliveryRounds - 1;
      const workerCounts = opts.workerCounts.filter((_, j) => j === 0 || last);
      if (want('delivery')) for (const fanout of opts.fanouts) for (const workers of workerCounts) round.runs.push(await deliveryRun(ctx, fanout, workers));
      results.delivery.push(round);
    }
  }
  if (want('baselines')) {
    results.fastifyHello = await fastifyHello(ctx);
    results.naiveIngest = await naiveIngest(ctx);
  }
  if (want('ingest')) results.ingest = await ingestRun(ctx);
  if (want('e2e')) results.e2e = await e2eRuns(ctx);
  if (want('backlog')) results.backlog = await backlogRun(ctx);
  if (want('noisy')) results.noisy = await noisyRounds(ctx);
} finally {
  await receiver.close();
  await sandboxes.drop();
}

const voided = problems(results);
const report = { date: new Date().toISOString(), smoke, machine: machine(), options: opts, results, targets: targets(results), references: references(results), ledger: { ok: voided.length === 0, problems: voided } };
console.log(render(results, opts));
const dir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = outArg ?? `${dir}${report.date.replace(/[:.]/g, '-')}${smoke ? '-smoke' : ''}.json`;
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nreport: ${file}`);
if (voided.length > 0) {
  console.error(`\nledger check failed, so this run is void:\n  ${voided.join('\n  ')}`);
  process.exitCode = 1;
}
process.exit();
