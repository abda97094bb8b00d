import { describe, expect, it } from 'vitest';
import {
  DEFAULT_JITTER,
  DEFAULT_RETRY_SCHEDULE,
  RETRY_LIMITS,
  maxAttempts,
  retryDelayMs,
  retryPolicyProblem,
  type ExponentialRetryPolicy,
  type RetryPolicy,
} from '../src/retry-policy.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const ALMOST_ONE = 0.9999999999;
const fixed = (value: number) => () => value;

describe('default policy', () => {
  const expected = [5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H];

  it('is eight attempts: one immediate plus seven retries', () => {
    expect(DEFAULT_RETRY_SCHEDULE).toEqual(expected);
    expect(maxAttempts(null)).toBe(8);
    expect(maxAttempts(undefined)).toBe(8);
  });

  it.each(expected.map((base, i) => [i + 1, base] as const))(
    'after attempt %i waits %i ms within ±10%% jitter',
    (attempt, base) => {
      expect(DEFAULT_JITTER).toBe(0.1);
      expect(retryDelayMs(null, attempt, fixed(0))).toBe(Math.round(base * 0.9));
      expect(retryDelayMs(null, attempt, fixed(0.5))).toBe(base);
      const high = retryDelayMs(null, attempt, fixed(ALMOST_ONE))!;
      expect(high).toBeGreaterThan(base * 1.09);
      expect(high).toBeLessThanOrEqual(base * 1.1);
      expect(retryDelayMs(undefined, attempt, fixed(0.5))).toBe(base);
    },
  );

  it('stays within ±10% for arbitrary random values', () => {
    for (let attempt = 1; attempt <= 7; attempt++) {
      const base = expected[attempt - 1]!;
      for (let i = 0; i < 50; i++) {
        const delay = retryDelayMs(null, attempt)!;
        expect(delay).toBeGreaterThanOrEqual(base * 0.9);
        expect(delay).toBeLessThanOrEqual(base * 1.1);
      }
    }
  });

  it('returns null after the last attempt', () => {
    expect(retryDelayMs(null, 8, fixed(0.5))).toBeNull();
    expect(retryDelayMs(null, 9, fixed(0.5))).toBeNull();
    expect(retryDelayMs(undefined, 8, fixed(0.5))).toBeNull();
  });
});

describe('explicit schedule', () => {
  const policy: RetryPolicy = { schedule: [1000, 0, 60_000, 123_456] };

  it('has schedule.length + 1 attempts', () => {
    expect(maxAttempts(policy)).toBe(5);
    expect(maxAttempts({ schedule: [] })).toBe(1);
  });

  it('uses the exact delays, without jitter', () => {
    for (const random of [fixed(0), fixed(0.5), fixed(ALMOST_ONE)]) {
      expect([1, 2, 3, 4].map((a) => retryDelayMs(policy, a, random))).toEqual([1000, 0, 60_000, 123_456]);
    }
  });

  it('returns null after the last attempt', () => {
    expect(retryDelayMs(policy, 5, fixed(0.5))).toBeNull();
    expect(retryDelayMs(policy, 6, fixed(0.5))).toBeNull();
    expect(retryDelayMs({ schedule: [] }, 1, fixed(0.5))).toBeNull();
  });
});

describe('exponential backoff with full jitter', () => {
  const policy: ExponentialRetryPolicy = { maxAttempts: 10, backoff: { type: 'exponential', baseMs: 1000, maxMs: 60_000 } };
  const ceiling = (n: number) => Math.min(60_000, 1000 * 2 ** (n - 1));

  it('has maxAttempts attempts', () => {
    expect(maxAttempts(policy)).toBe(10);
  });

  it('is bounded by min(maxMs, baseMs * 2^(n-1))', () => {
    for (let attempt = 1; attempt < 10; attempt++) {
      const top = ceiling(attempt);
      expect(retryDelayMs(policy, attempt, fixed(0))).toBe(0);
      expect(retryDelayMs(policy, attempt, fixed(0.5))).toBe(Math.floor(top / 2));
      const high = retryDelayMs(policy, attempt, fixed(ALMOST_ONE))!;
      expect(high).toBeLessThanOrEqual(top);
      expect(high).toBeGreaterThanOrEqual(top - 1);
    }
    expect([1, 2, 3, 6, 7, 9].map(ceiling)).toEqual([1000, 2000, 4000, 32_000, 60_000, 60_000]);
  });

  it('stays within [0, ceiling] for arbitrary random values', () => {
    for (let attempt = 1; attempt < 10; attempt++) {
      for (let i = 0; i < 50; i++) {
        const delay = retryDelayMs(policy, attempt)!;
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling(attempt));
      }
    }
  });

  it('returns null after maxAttempts', () => {
    expect(retryDelayMs(policy, 10, fixed(0.5))).toBeNull();
    expect(retryDelayMs(policy, 11, fixed(0.5))).toBeNull();
    const once: ExponentialRetryPolicy = { maxAttempts: 1, backoff: { type: 'exponential', baseMs: 1000, maxMs: 1000 } };
    expect(retryDelayMs(once, 1, fixed(0.5))).toBeNull();
  });

  it('does not overflow the cap at the attempt limit', () => {
    const big: ExponentialRetryPolicy = {
      maxAttempts: RETRY_LIMITS.maxAttempts,
      backoff: { type: 'exponential', baseMs: RETRY_LIMITS.maxDelayMs, maxMs: RETRY_LIMITS.maxDelayMs },
    };
    expect(retryDelayMs(big, RETRY_LIMITS.maxAttempts - 1, fixed(ALMOST_ONE))).toBeLessThanOrEqual(RETRY_LIMITS.maxDelayMs);
  });
});

describe('retryPolicyProblem', () => {
  const exp = (maxAttempts: number, baseMs: number, maxMs: number): ExponentialRetryPolicy => ({
    maxAttempts,
    backoff: { type: 'exponential', baseMs, maxMs },
  });

  it.each<[string, RetryPolicy]>([
    ['an empty schedule', { schedule: [] }],
    ['a normal schedule', { schedule: [0, 1000, 60_000] }],
    ['the longest schedule', { schedule: Array(RETRY_LIMITS.maxAttempts - 1).fill(1000) }],
    ['the longest delay', { schedule: [RETRY_LIMITS.maxDelayMs] }],
    ['normal exponential', exp(5, 1000, 60_000)],
    ['one attempt', exp(1, 0, 0)],
    ['the attempt limit', exp(RETRY_LIMITS.maxAttempts, 1000, RETRY_LIMITS.maxDelayMs)],
    ['baseMs equal to maxMs', exp(3, 5000, 5000)],
  ])('accepts %s', (_label, policy) => {
    expect(retryPolicyProblem(policy)).toBeNull();
  });

  it.each<[string, RetryPolicy, RegExp]>([
    ['too many scheduled retries', { schedule: Array(RETRY_LIMITS.maxAttempts).fill(1000) }, /at most 49 retries/],
    ['a negative delay', { schedule: [1000, -1] }, /whole milliseconds/],
    ['a fractional delay', { schedule: [1.5] }, /whole milliseconds/],
    ['a NaN delay', { schedule: [Number.NaN] }, /whole milliseconds/],
    ['a delay over a week', { schedule: [RETRY_LIMITS.maxDelayMs + 1] }, /whole milliseconds/],
    ['zero attempts', exp(0, 1000, 2000), /maxAttempts must be between 1 and 50/],
    ['too many attempts', exp(RETRY_LIMITS.maxAttempts + 1, 1000, 2000), /maxAttempts/],
    ['fractional attempts', exp(2.5, 1000, 2000), /maxAttempts/],
    ['a negative baseMs', exp(3, -1, 2000), /baseMs <= maxMs/],
    ['maxMs over a week', exp(3, 1000, RETRY_LIMITS.maxDelayMs + 1), /baseMs <= maxMs/],
    ['maxMs below baseMs', exp(3, 2000, 1000), /baseMs <= maxMs/],
    ['a NaN baseMs', exp(3, Number.NaN, 1000), /baseMs <= maxMs/],
    ['a fractional maxMs', exp(3, 100, 1000.5), /baseMs <= maxMs/],
  ])('rejects %s', (_label, policy, message) => {
    expect(retryPolicyProblem(policy)).toMatch(message);
  });
});
