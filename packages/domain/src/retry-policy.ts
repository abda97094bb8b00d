const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Explicit delays between attempts: attempts = schedule.length + 1. */
export interface ScheduleRetryPolicy {
  schedule: number[];
}

/** Exponential backoff with full jitter, capped at maxMs. */
export interface ExponentialRetryPolicy {
  maxAttempts: number;
  backoff: { type: 'exponential'; baseMs: number; maxMs: number };
}

export type RetryPolicy = ScheduleRetryPolicy | ExponentialRetryPolicy;

/** Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 27 h in all. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
];

/** The default schedule's delays vary by up to ±10% so retries of a burst do not arrive in lockstep. */
export const DEFAULT_JITTER = 0.1;

export const RETRY_LIMITS = {
  maxAttempts: 50,
  maxDelayMs: 7 * 24 * HOUR,
} as const;

export function maxAttempts(policy: RetryPolicy | null | undefined): number {
  if (!policy) return DEFAULT_RETRY_SCHEDULE.length + 1;
  return 'schedule' in policy ? policy.schedule.length + 1 : policy.maxAttempts;
}

/**
 * Delay before the attempt after `attempt` (1-based, within the current round), or null when
 * `attempt` was the last one. `random` returns [0, 1) and is injectable for tests.
 */
export function retryDelayMs(
  policy: RetryPolicy | null | undefined,
  attempt: number,
  random: () => number = Math.random,
): number | null {
  if (attempt >= maxAttempts(policy)) return null;
  if (!policy) {
    const base = DEFAULT_RETRY_SCHEDULE[attempt - 1]!;
    return Math.round(base * (1 - DEFAULT_JITTER + 2 * DEFAULT_JITTER * random()));
  }
  if ('schedule' in policy) return policy.schedule[attempt - 1]!;
  const { baseMs, maxMs } = policy.backoff;
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.floor(ceiling * random());
}

/** Returns why a retry policy is unusable, or null. Shape is checked by schema; this checks meaning. */
export function retryPolicyProblem(policy: RetryPolicy): string | null {
  if ('schedule' in policy) {
    if (policy.schedule.length + 1 > RETRY_LIMITS.maxAttempts) {
      return `schedule allows at most ${RETRY_LIMITS.maxAttempts - 1} retries`;
    }
    if (policy.schedule.some((d) => !Number.isInteger(d) || d < 0 || d > RETRY_LIMITS.maxDelayMs)) {
      return `schedule delays must be whole milliseconds between 0 and ${RETRY_LIMITS.maxDelayMs}`;
    }
    return null;
  }
  const { maxAttempts: n, backoff } = policy;
  if (!Number.isInteger(n) || n < 1 || n > RETRY_LIMITS.maxAttempts) {
    return `maxAttempts must be between 1 and ${RETRY_LIMITS.maxAttempts}`;
  }
  if (
    !Number.isInteger(backoff.baseMs) ||
    !Number.isInteger(backoff.maxMs) ||
    backoff.baseMs < 0 ||
    backoff.maxMs > RETRY_LIMITS.maxDelayMs ||
    backoff.maxMs < backoff.baseMs
  ) {
    return `backoff needs 0 <= baseMs <= maxMs <= ${RETRY_LIMITS.maxDelayMs}`;
  }
  return null;
}
