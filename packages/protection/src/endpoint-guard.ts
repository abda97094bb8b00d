import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { ProtectionSettings } from '@hookrelay/domain';
import { queuePrefix } from '@hookrelay/queue';

const script = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
const ACQUIRE = script('acquire.lua');
const RECORD = script('record.lua');

export type DenyReason = 'retry_after' | 'circuit_open' | 'circuit_probing' | 'max_in_flight' | 'rate_limited';
export type Admission = { allowed: true; probe: boolean } | { allowed: false; waitMs: number; reason: DenyReason };
export type Outcome = 'success' | 'failure' | 'neutral';
export type Transition = '' | 'opened' | 'reopened' | 'recovered' | 'disable';

export interface Health {
  state: 'closed' | 'open' | 'half_open';
  /** Share of failed attempts in the sliding window (0–1); null before any attempt. */
  failureRate: number | null;
  openedAt: string | null;
  nextProbeAt: string | null;
  /** When the current run of failures began; null while the endpoint succeeds. */
  failingSince: string | null;
}

type Reply = [number, number, string];
type GuardCommands = {
  hookrelayAcquire(...args: (string | number)[]): Promise<Reply>;
  hookrelayRecord(...args: (string | number)[]): Promise<[Transition, string | number]>;
};

/**
 * The fleet-wide gate in front of every delivery attempt. All state for an endpoint lives under
 * one Redis Cluster hash tag and changes only inside Lua scripts, so every worker process sees
 * one rate limit, one set of in-flight leases and one circuit breaker per endpoint.
 */
export class EndpointGuard {
  private readonly base: string;
  private readonly commands: GuardCommands;

  constructor(
    private readonly redis: Redis,
    prefixName: string,
  ) {
    this.base = `${queuePrefix(prefixName)}:endpoint:`;
    // Defined commands run by EVALSHA: the script text crosses the wire once per connection.
    redis.defineCommand('hookrelayAcquire', { numberOfKeys: 7, lua: ACQUIRE });
    redis.defineCommand('hookrelayRecord', { numberOfKeys: 4, lua: RECORD });
    this.commands = redis as unknown as GuardCommands;
  }

  private keys(endpointId: string) {
    const k = this.base + endpointId;
    return {
      breaker: `${k}:breaker`,
      leases: `${k}:leases`,
      tat: `${k}:tat`,
      pause: `${k}:pause`,
      window: `${k}:window`,
      waiting: `${k}:waiting`,
      slots: `${k}:slots`,
      admitted: `${k}:admitted`,
    };
  }

  /**
   * Asks to start one attempt. Allowed attempts hold a lease until `record` (or until it expires).
   * `again`: the same job asking after a short wait of its own, so it is not counted as one more
   * job waiting for the endpoint (that count sets how long deferred jobs stay away). `jobs`: how
   * many jobs a refusal holds back (a batch that waits whole when its first member is refused):
   * each counts as waiting, so the jobs refused after them wait longer.
   */
  async acquire(
    endpointId: string,
    settings: ProtectionSettings,
    leaseId: string,
    leaseMs: number,
    { again = false, jobs = 1 }: { again?: boolean; jobs?: number } = {},
  ): Promise<Admission> {
    const k = this.keys(endpointId);
    const [allowed, waitMs, reason] = await this.commands.hookrelayAcquire(
      k.breaker,
      k.leases,
      k.tat,
      k.pause,
      k.waiting,
      k.slots,
      k.admitted,
      leaseId,
      leaseMs,
      settings.maxInFlight,
      settings.rateLimit?.perSecond ?? 0,
      settings.rateLimit?.burst ?? 1,
      leaseMs,
      again ? 0 : Math.max(1, Math.floor(jobs)),
    );
    if (allowed === 1) return { allowed: true, probe: reason === 'probe' };
    return { allowed: false, waitMs: Math.max(1, waitMs), reason: reason as DenyReason };
  }

  /** Reports how an admitted attempt went; answers the breaker transition it caused. */
  async record(
    endpointId: string,
    settings: ProtectionSettings,
    leaseId: string,
    outcome: Outcome,
    { retryAfterMs = 0, disableNow = false }: { retryAfterMs?: number; disableNow?: boolean } = {},
  ): Promise<{ transition: Transition; failingSince: number | null }> {
    const k = this.keys(endpointId);
    const b = settings.breaker;
    const [transition, failingSince] = await this.commands.hookrelayRecord(
      k.breaker,
      k.leases,
      k.pause,
      k.window,
      leaseId,
      outcome,
      Math.round(retryAfterMs),
      b.windowSize,
      b.minimumAttempts,
      b.failureRatePercent,
      b.consecutiveFailures,
      b.cooldownMs,
      b.maxCooldownMs,
      settings.autoDisableAfterMs,
      disableNow ? 1 : 0,
    );
    const since = Number(failingSince);
    return { transition, failingSince: since > 0 ? since : null };
  }

  async health(endpointId: string): Promise<Health> {
    const k = this.keys(endpointId);
    const [[, hash], [, window], [, time]] = (await this.redis
      .multi()
      .hgetall(k.breaker)
      .lrange(k.window, 0, -1)
      .time()
      .exec()) as [[null, Record<string, string>], [null, string[]], [null, [string, string]]];
    const now = Number(time[0]) * 1000;
    const iso = (v: string | undefined) => (v ? new Date(Number(v)).toISOString() : null);
    const open = hash.state === 'open';
    const probing = open && (Number(hash.nextProbeAt ?? 0) <= now || Number(hash.probeUntil ?? 0) > now);
    const failures = window.filter((v) => v === '0').length;
    return {
      state: open ? (probing ? 'half_open' : 'open') : 'closed',
      failureRate: window.length > 0 ? failures / window.length : null,
      openedAt: open ? iso(hash.openedAt) : null,
      nextProbeAt: open ? iso(hash.nextProbeAt) : null,
      failingSince: iso(hash.failingSince),
    };
  }

  /** Forgets everything about an endpoint: used when a tenant re-enables or deletes it. */
  async reset(endpointId: string): Promise<void> {
    const k = this.keys(endpointId);
    await this.redis.del(k.breaker, k.leases, k.tat, k.pause, k.window, k.waiting, k.slots, k.admitted);
  }
}
