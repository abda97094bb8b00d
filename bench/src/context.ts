import type { Sandboxes } from './infra.ts';
import type { BenchReceiver } from './receiver.ts';

export interface BenchOptions {
  smoke: boolean;
  /** Jobs one worker process runs at once; the baselines use the same figure. */
  concurrency: number;
  rawCount: number;
  naiveCount: number;
  /** Jobs for naive BullMQ recording each attempt as a row: a reference figure beside the targets. */
  naiveRecordingCount: number;
  deliveryCount: number;
  /**
   * Rounds of the delivery comparison: each runs raw HTTP, naive BullMQ and the one-worker runs
   * back to back, and the delivery targets take the median of the rounds' ratios, so one noisy
   * minute does not decide them. Runs with more workers happen in the last round only.
   */
  deliveryRounds: number;
  fanouts: number[];
  workerCounts: number[];
  ingestLevels: number[];
  ingestSeconds: number;
  warmupSeconds: number;
  e2eRates: number[];
  e2eSeconds: number;
  backlogDeliveries: number;
  backlogFanout: number;
  backlogObserveSeconds: number;
  noisyRate: number;
  noisySeconds: number;
  /**
   * Rounds of the noisy-neighbour comparison, each on a fresh stack (its phases with and without
   * the neighbour back to back); the target takes the median of the rounds' ratios, as the
   * delivery targets do, since one hiccup of the machine sets a phase's p99.
   */
  noisyRounds: number;
  /**
   * How often each scenario's tables are checked for growth, to be analyzed (0: never). A
   * deployment's tables are analyzed by autovacuum as they change; a scenario's are young, and
   * without this the generic plans of the prepared statements, made while the tables were empty,
   * scan them.
   */
  analyzeCheckMs: number;
}

export const FULL: BenchOptions = {
  smoke: false,
  concurrency: 200,
  rawCount: 100_000,
  naiveCount: 100_000,
  naiveRecordingCount: 60_000,
  deliveryCount: 100_000,
  deliveryRounds: 3,
  fanouts: [1, 10],
  workerCounts: [1, 2],
  ingestLevels: [8, 32, 128],
  ingestSeconds: 10,
  warmupSeconds: 3,
  e2eRates: [100, 500, 1_000],
  e2eSeconds: 15,
  backlogDeliveries: 1_000_000,
  backlogFanout: 10,
  backlogObserveSeconds: 60,
  noisyRate: 500,
  noisySeconds: 20,
  noisyRounds: 3,
  analyzeCheckMs: 1_000,
};

/** A few seconds of each scenario: proves the bench runs and the books balance, measures nothing. */
export const SMOKE: BenchOptions = {
  smoke: true,
  // The default: at 10, one hanging endpoint (maxInFlight 10) would hold every slot.
  concurrency: 200,
  rawCount: 1_000,
  naiveCount: 1_000,
  naiveRecordingCount: 1_000,
  deliveryCount: 1_000,
  deliveryRounds: 1,
  fanouts: [1, 10],
  workerCounts: [1],
  ingestLevels: [4],
  ingestSeconds: 1,
  warmupSeconds: 0,
  e2eRates: [50],
  e2eSeconds: 2,
  backlogDeliveries: 2_000,
  backlogFanout: 10,
  backlogObserveSeconds: 2,
  noisyRate: 50,
  noisySeconds: 2,
  noisyRounds: 1,
  analyzeCheckMs: 1_000,
};

export interface Context {
  opts: BenchOptions;
  sandboxes: Sandboxes;
  receiver: BenchReceiver;
  log(message: string): void;
}
