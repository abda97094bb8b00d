import type { Config } from '@hookrelay/config';

/** Abuse limits of the HTTP API; every number comes from a HOOKRELAY_* variable (see the README). */
export interface ApiLimits {
  /** Requests per second per tenant on /v1 and per source on /in/:sourceId; 0 turns the limit off. */
  ratePerSecond: number;
  /** The fixed window the rate is counted in: a window allows ratePerSecond × rateWindowSeconds requests. */
  rateWindowSeconds: number;
  /** Wrong API keys or admin tokens per client IP per minute before auth answers 429; 0 turns it off. */
  authFailuresPerMinute: number;
  /** Live subscriptions one tenant may have; 0 means no cap. */
  maxSubscriptionsPerTenant: number;
  /** Live sources one tenant may have; 0 means no cap. */
  maxSourcesPerTenant: number;
}

/** The configuration's defaults, for callers that build an app without a Config. */
export const DEFAULT_API_LIMITS: ApiLimits = {
  ratePerSecond: 100,
  rateWindowSeconds: 10,
  authFailuresPerMinute: 100,
  maxSubscriptionsPerTenant: 1000,
  maxSourcesPerTenant: 100,
};

type LimitVariables =
  | 'HOOKRELAY_API_RATE_LIMIT'
  | 'HOOKRELAY_API_RATE_WINDOW_SECONDS'
  | 'HOOKRELAY_AUTH_FAILURE_LIMIT'
  | 'HOOKRELAY_MAX_SUBSCRIPTIONS_PER_TENANT'
  | 'HOOKRELAY_MAX_SOURCES_PER_TENANT';

export function apiLimitsFromConfig(config: Pick<Config, LimitVariables>): ApiLimits {
  return {
    ratePerSecond: config.HOOKRELAY_API_RATE_LIMIT,
    rateWindowSeconds: config.HOOKRELAY_API_RATE_WINDOW_SECONDS,
    authFailuresPerMinute: config.HOOKRELAY_AUTH_FAILURE_LIMIT,
    maxSubscriptionsPerTenant: config.HOOKRELAY_MAX_SUBSCRIPTIONS_PER_TENANT,
    maxSourcesPerTenant: config.HOOKRELAY_MAX_SOURCES_PER_TENANT,
  };
}
