/**
 * Per-endpoint protection settings: how hard Hookrelay may push one receiver, and when it stops
 * trying. A subscription's own values win over its tenant's defaults, which win over these.
 */
export interface RateLimit {
  /** Sustained deliveries per second, across every worker. */
  perSecond: number;
  /** How many may go at once after a quiet spell (default 1: perfectly smooth). */
  burst?: number;
}

export interface BreakerSettings {
  /** Attempts remembered in the sliding window. */
  windowSize: number;
  /** The failure rate only counts once the window holds this many attempts. */
  minimumAttempts: number;
  /** Open when at least this percentage of the window failed... */
  failureRatePercent: number;
  /** ...or after this many failures in a row. */
  consecutiveFailures: number;
  /** First cooldown before a probe; doubles on every trip that follows, up to maxCooldownMs. */
  cooldownMs: number;
  maxCooldownMs: number;
}

export interface ProtectionSettings {
  rateLimit: RateLimit | null;
  maxInFlight: number;
  breaker: BreakerSettings;
  /** Disable an endpoint that has failed without a single success for this long (0: never). */
  autoDisableAfterMs: number;
}

export const DEFAULT_BREAKER: BreakerSettings = {
  windowSize: 20,
  minimumAttempts: 10,
  failureRatePercent: 50,
  consecutiveFailures: 5,
  cooldownMs: 30_000,
  maxCooldownMs: 30 * 60_000,
};

export const DEFAULT_PROTECTION: ProtectionSettings = {
  rateLimit: null,
  maxInFlight: 10,
  breaker: DEFAULT_BREAKER,
  autoDisableAfterMs: 5 * 24 * 60 * 60_000,
};

/** What a tenant may store as its defaults: any part of the settings. */
export interface TenantProtectionDefaults {
  rateLimit?: RateLimit | null;
  maxInFlight?: number;
  breaker?: Partial<BreakerSettings>;
  autoDisableAfterMs?: number;
}

export interface SubscriptionProtection {
  rateLimit?: RateLimit | null;
  maxInFlight?: number | null;
}

export function effectiveProtection(
  subscription: SubscriptionProtection,
  tenant: TenantProtectionDefaults | null | undefined,
): ProtectionSettings {
  return {
    rateLimit: subscription.rateLimit ?? tenant?.rateLimit ?? DEFAULT_PROTECTION.rateLimit,
    maxInFlight: subscription.maxInFlight ?? tenant?.maxInFlight ?? DEFAULT_PROTECTION.maxInFlight,
    breaker: { ...DEFAULT_BREAKER, ...tenant?.breaker },
    autoDisableAfterMs: tenant?.autoDisableAfterMs ?? DEFAULT_PROTECTION.autoDisableAfterMs,
  };
}

/** Returns why breaker settings are unusable, or null. */
export function breakerProblem(b: BreakerSettings): string | null {
  if (b.minimumAttempts > b.windowSize) return 'minimumAttempts cannot exceed windowSize';
  if (b.maxCooldownMs < b.cooldownMs) return 'maxCooldownMs cannot be below cooldownMs';
  return null;
}

/** Longest pause a receiver's Retry-After can impose; a hostile value cannot park deliveries for years. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/**
 * Milliseconds a Retry-After header asks for (delay-seconds or an HTTP date), capped at
 * MAX_RETRY_AFTER_MS; null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return null;
    ms = at - nowMs;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** Answers that ask the sender to slow down rather than say the endpoint is broken. */
export const isBackPressureStatus = (status: number | null): boolean => status === 429 || status === 503;

/** Event types Hookrelay itself publishes to tenants; tenants cannot publish under this prefix. */
export const OPERATIONAL_EVENT_PREFIX = 'hookrelay.';
export const OPERATIONAL_EVENTS = {
  endpointDisabled: 'hookrelay.endpoint.disabled',
  circuitOpened: 'hookrelay.endpoint.circuit_opened',
  endpointRecovered: 'hookrelay.endpoint.recovered',
  deliveryDead: 'hookrelay.delivery.dead',
} as const;
