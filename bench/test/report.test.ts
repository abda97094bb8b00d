import { describe, expect, it } from 'vitest';
import { references, targets, type DeliveryRound } from '../src/report.ts';
import type { DeliveryBaseline } from '../src/scenarios/baselines.ts';
import type { DeliveryRun } from '../src/scenarios/delivery.ts';
import type { NoisyRun } from '../src/scenarios/noisy.ts';

const latency = { count: 1, p50: 1, p95: 1, p99: 1, max: 1 };
const baseline = (perSecond: number, cpuMsPerDelivery: Record<string, number> = {}): DeliveryBaseline => ({ count: 1000, perSecond, latency, peakRssMiB: 100, cpuMsPerDelivery, machineBusyPct: 80 });
const run = (fanout: number, workers: number, perSecond: number, cpuMsPerDelivery: Record<string, number> = {}): DeliveryRun => ({
  fanout,
  workers,
  deliveries: 1000,
  perSecond,
  attemptMs: latency,
  peakRssMiB: {},
  cpuMsPerDelivery,
  machineBusyPct: 80,
  problems: [],
});
const round = (naive: number, raw: number, ...runs: DeliveryRun[]): DeliveryRound => ({ naiveBullmq: baseline(naive), rawHttp: baseline(raw), runs });
const delivery = (rounds: DeliveryRound[]) => targets({ delivery: rounds }).filter((t) => t.name.startsWith('delivery'));

describe('delivery targets', () => {
  it('take each round’s slowest one-worker run over that round’s baselines, and the median of the rounds', () => {
    const [naive, raw] = delivery([
      // ratios to naive 0.9, 1.2 and 1.05 (the slower fan-out each time); two workers never count
      round(1000, 2000, run(1, 1, 950), run(10, 1, 900), run(1, 2, 5000)),
      round(2000, 4000, run(1, 1, 2400), run(10, 1, 2500)),
      round(1000, 4000, run(1, 1, 1100), run(10, 1, 1050)),
    ]);
    expect(naive).toMatchObject({ measured: 1.05, met: true, target: '≥ 1.0×' });
    expect(naive!.name).toContain('median of 3 rounds');
    // to raw HTTP: 0.45, 0.6 and 0.26
    expect(raw).toMatchObject({ measured: 0.45, met: false, target: '≥ 0.5×' });
  });

  it('with one round, are that round’s ratios', () => {
    const [naive] = delivery([round(1000, 2000, run(1, 1, 800), run(10, 1, 990))]);
    expect(naive).toMatchObject({ measured: 0.8, met: false });
    expect(naive!.name).not.toContain('median');
  });

  it('average the middle two of an even number of rounds', () => {
    const [naive] = delivery([round(1000, 2000, run(1, 1, 900)), round(1000, 2000, run(1, 1, 1200))]);
    expect(naive!.measured).toBe(1.05);
  });
});

describe('delivery references', () => {
  it('compare the slowest one-worker run with naive BullMQ recording attempts, and CPU per delivery over every process, as medians of the rounds', () => {
    const withRecording = (naive: number, recording: number, naiveCpu: Record<string, number>, ...runs: DeliveryRun[]): DeliveryRound => ({
      naiveBullmq: baseline(naive, naiveCpu),
      naiveRecording: baseline(recording),
      runs,
    });
    const [recording, cpu] = references({
      delivery: [
        // ÷ recording: 0.95/1000 → 0.95 (fan-out 10 is slower); CPU: the costlier run, 0.3 of 0.2 → 1.5
        withRecording(2000, 1000, { worker: 0.15, redis: 0.05 }, run(1, 1, 1200, { 'worker 1': 0.2, postgres: 0.05 }), run(10, 1, 950, { 'worker 1': 0.2, postgres: 0.1 })),
        // 2.0, and 0.25 of 0.25 → 1.0; the two-worker run counts for neither
        withRecording(2000, 1000, { worker: 0.2, redis: 0.05 }, run(1, 1, 2000, { 'worker 1': 0.25 }), run(1, 2, 9000, { 'worker 1': 1, 'worker 2': 1 })),
        // 1.2, and 0.36 of 0.3 → 1.2
        withRecording(2000, 1000, { worker: 0.3 }, run(1, 1, 1200, { 'worker 1': 0.3, redis: 0.06 })),
      ],
    });
    expect(recording).toMatchObject({ measured: 1.2 });
    expect(recording!.name).toContain('median of 3 rounds');
    expect(cpu).toMatchObject({ measured: 1.2 });
  });

  it('are absent without their baselines', () => {
    expect(references({ delivery: [{ runs: [run(1, 1, 1000)] }] })).toEqual([]);
  });
});

describe('noisy-neighbour target', () => {
  const noisyRound = (p99Ratio: number): NoisyRun => ({
    rate: 500,
    quiet: latency,
    noisy: latency,
    p99Ratio,
    sameLoad: latency,
    p99RatioToSameLoad: 1,
    cpu: { quiet: { msPerEvent: {}, machineBusyPct: 50 }, sameLoad: { msPerEvent: {}, machineBusyPct: 80 }, noisy: { msPerEvent: {}, machineBusyPct: 90 } },
    peakRssMiB: {},
    problems: [],
  });
  const noisy = (ratios: number[]) => targets({ noisy: ratios.map(noisyRound) }).find((t) => t.name.startsWith('healthy p99'));

  it('takes the median of the rounds’ ratios, so one round’s hiccup does not decide it', () => {
    expect(noisy([1.6, 3.4, 1.9])).toMatchObject({ measured: 1.9, met: true, target: '≤ 2.0×' });
    expect(noisy([2.4, 1.1, 2.2])).toMatchObject({ measured: 2.2, met: false });
    expect(noisy([1.6, 3.4, 1.9])!.name).toContain('median of 3 rounds');
  });

  it('with one round, is that round’s ratio', () => {
    const t = noisy([2.5]);
    expect(t).toMatchObject({ measured: 2.5, met: false });
    expect(t!.name).not.toContain('median');
  });
});
