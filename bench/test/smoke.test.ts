import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));

// Not a speed test: it runs every scenario for a few seconds and checks that the books balance
// and the report is complete. Speed is for `pnpm bench`, on a quiet machine.
describe('pnpm bench --smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hookrelay-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario beside its baselines, balances every ledger and writes the report', async () => {
    const out = join(dir, 'report.json');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/src/main.ts', '--smoke', `--out=${out}`], {
      cwd: repo,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toContain('Targets');
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.ledger).toEqual({ ok: true, problems: [] });
    const r = report.results;
    expect(r.delivery).toHaveLength(1); // one round in a smoke run
    const [round] = r.delivery;
    for (const baseline of [round.rawHttp, round.naiveBullmq, round.naiveRecording]) expect(baseline.perSecond).toBeGreaterThan(0);
    for (const server of [r.fastifyHello, r.naiveIngest, r.ingest]) expect(server.levels[0].perSecond).toBeGreaterThan(0);
    expect(round.runs.map((d: { fanout: number }) => d.fanout)).toEqual([1, 10]);
    for (const d of round.runs) expect(d.perSecond).toBeGreaterThan(0);
    expect(r.e2e[0].published).toBeGreaterThan(0);
    expect(r.e2e[0].undelivered).toBe(0);
    expect(r.e2e[0].fromAccepted.count).toBe(r.e2e[0].published);
    // CPU per unit of work is read from /proc (in 10 ms ticks): the processes that did the work show
    // some; a service's share of a two-second run may round to nothing.
    for (const name of ['api', 'worker 1', 'bench']) expect(r.e2e[0].cpuMsPerEvent[name], name).toBeGreaterThan(0);
    for (const name of ['postgres', 'redis']) expect(r.e2e[0].cpuMsPerEvent[name], name).toBeGreaterThanOrEqual(0);
    expect(r.e2e[0].machineBusyPct).toBeGreaterThan(0);
    expect(r.e2e[0].machineBusyPct).toBeLessThanOrEqual(100);
    // Read from the API's /metrics: at least one publish per committed transaction.
    expect(r.e2e[0].publishesPerCommit).toBeGreaterThanOrEqual(1);
    for (const d of round.runs) expect(d.cpuMsPerDelivery['worker 1']).toBeGreaterThan(0);
    for (const baseline of [round.rawHttp, round.naiveBullmq, round.naiveRecording]) expect(baseline.cpuMsPerDelivery.worker).toBeGreaterThan(0);
    expect(report.references.map((x: { name: string }) => x.name)).toEqual([expect.stringContaining('recording attempts'), expect.stringContaining('CPU per delivery')]);
    expect(r.backlog.redisBytesPerDelivery).toBeGreaterThan(0);
    expect(r.backlog.drained).toBeGreaterThan(0);
    expect(r.noisy).toHaveLength(1);
    expect(r.noisy[0].noisy.count).toBeGreaterThan(0);
    expect(report.targets.length).toBeGreaterThanOrEqual(9);
  }, 300_000);
});
