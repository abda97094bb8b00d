import { Type } from 'typebox';
import { MaxInFlight, RateLimit } from './subscriptions.ts';
import { Nullable, NullableInput } from './common.ts';

const Ms = (max: number, description: string) => Type.Integer({ minimum: 0, maximum: max, description });
const DAY = 24 * 60 * 60_000;

export const Breaker = Type.Object(
  {
    windowSize: Type.Integer({ minimum: 1, maximum: 1_000, description: 'Attempts remembered in the sliding window' }),
    minimumAttempts: Type.Integer({ minimum: 1, maximum: 1_000, description: 'Attempts needed before the failure rate counts' }),
    failureRatePercent: Type.Integer({ minimum: 1, maximum: 100, description: 'Open at this failure rate over the window' }),
    consecutiveFailures: Type.Integer({ minimum: 1, maximum: 10_000, description: 'Or after this many failures in a row' }),
    cooldownMs: Type.Integer({ minimum: 100, maximum: DAY, description: 'First wait before a probe; doubles on each trip' }),
    maxCooldownMs: Type.Integer({ minimum: 100, maximum: DAY, description: 'Longest wait before a probe' }),
  },
  { additionalProperties: false },
);

export const Settings = Type.Object({
  rateLimit: Nullable(RateLimit),
  maxInFlight: MaxInFlight,
  breaker: Breaker,
  autoDisableAfterMs: Ms(365 * DAY, 'Disable an endpoint failing without a success for this long; 0 never'),
});

export const SettingsPatch = Type.Object(
  {
    rateLimit: Type.Optional(NullableInput(RateLimit)),
    maxInFlight: Type.Optional(MaxInFlight),
    breaker: Type.Optional(Type.Partial(Breaker, { additionalProperties: false })),
    autoDisableAfterMs: Type.Optional(Ms(365 * DAY, 'Disable an endpoint failing without a success for this long; 0 never')),
  },
  { additionalProperties: false, minProperties: 1 },
);
