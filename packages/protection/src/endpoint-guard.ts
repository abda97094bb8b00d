import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import DataLoader from 'dataloader';
import type { Redis } from 'ioredis';
import type { ProtectionSettings } from '@hookrelay/domain';
import { queuePrefix } from '@hookrelay/queue';
import { holdChannel, holdNotice, resetNotice } from './hold-notices.ts';

const script = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
const ACQUIRE = script('acquire.lua');
const RECORD = script('record.lua');

export type DenyReason = 'retry_after' | 'circuit_open' | 'circuit_probing' | 'max_in_flight' | 'rate_limited';
/**
 * How long an endpoint takes nothing from the moment of the answer (a Retry-After pause, an open
 * breaker before its next probe: for sure; a full in-flight cap: the time one slot is expected to
 * take to free), and how much later than the last the gate sends back each further job it turns
 * away: what a worker needs to hold back that endpoint's next jobs as the gate would
 * (`EndpointHolds`).
 */
export interface Hold {
  holdMs: number;
  spacingMs: number;
}
export type Admission =
  | { allowed: true; probe: boolean }
  | { allowed: false; waitMs: number; reason: DenyReason; hold?: Hold };
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

type GuardCommands = {
  /** Flat replies: {allowed, wait ms, reason, hold ms, spacing ms} per request. */
  hookrelayAcquire(...args: (string | number)[]): Promise<(number | string)[]>;
  /** Flat replies: {transition, failing since} per outcome. */
  hookrelayRecord(...args: (string | number)[]): Promise<(string | number)[]>;
};

/**
 * One gate call: its endpoint and the settings it is judged by, shared by the other calls to that
 * endpoint, and its own arguments.
 */
interface GateCall {
  endpointId: string;
  settings: number[];
  own: (string | number)[];
}

/** Calls to the same endpoint with the same settings, in the order they were made. */
function byEndpoint(calls: readonly GateCall[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  calls.forEach((call, i) => {
    const key = `${call.endpointId} ${call.settings.join(' ')}`;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  return groups;
}

/**
 * Gathers the gate calls made in one turn of the event loop and sends those to one endpoint as one
 * script call, which answers each in order as if it had been sent alone: a batch's members ask and
 * answer together, so the worker and Redis pay one command for them, not one each. `send` gets
 * the endpoint, its settings and every call's own arguments; `width` is the length of one answer.
 */
function perTurn<R>(
  send: (endpointId: string, args: (string | number)[]) => Promise<(string | number)[]>,
  width: number,
  reply: (flat: (string | number)[], at: number) => R,
  onDispatch?: () => void,
) {
  return new DataLoader<GateCall, R>(
    async (calls) => {
      onDispatch?.();
      const answers: (R | Error)[] = new Array(calls.length);
      await Promise.all(
        [...byEndpoint(calls).values()].map(async (members) => {
          const first = calls[members[0]!]!;
          try {
            const flat = await send(first.endpointId, [...first.settings, ...members.flatMap((i) => calls[i]!.own)]);
            members.forEach((i, n) => (answers[i] = reply(flat, n * width)));
          } catch (err) {
            for (const i of members) answers[i] = err instanceof Error ? err : new Error(String(err));
          }
        }),
      );
      return answers;
    },
    { cache: false, maxBatchSize: 1_000, batchScheduleFn: (run) => setImmediate(run) },
  );
}

/**
 * The fleet-wide gate in front of every delivery attempt. All state for an endpoint lives under
 * one Redis Cluster hash tag and changes only inside Lua scripts, so every worker process sees
 * one rate limit, one set of in-flight leases and one circuit breaker per endpoint. Calls to one
 * endpoint made in the same turn of the event loop go to Redis as one script call.
 */
export class EndpointGuard {
  /** Names this client's hold notices, so that its own process skips them (`listenForHolds`). */
  readonly origin = randomBytes(9).toString('base64url');
  private readonly base: string;
  private readonly acquires: DataLoader<GateCall, Admission | null>;
  /** Lease ids of the admissions asked in this turn, not yet sent: those a batch member can follow. */
  private unsent = new Set<string>();
  private readonly records: DataLoader<GateCall, { transition: Transition; failingSince: number | null }>;

  constructor(
    private readonly redis: Redis,
    private readonly prefixName: string,
  ) {
    this.base = `${queuePrefix(prefixName)}:endpoint:`;
    // Defined commands run by EVALSHA: the script text crosses the wire once per connection.
    redis.defineCommand('hookrelayAcquire', { numberOfKeys: 7, lua: ACQUIRE });
    redis.defineCommand('hookrelayRecord', { numberOfKeys: 4, lua: RECORD });
    const commands = redis as unknown as GuardCommands;
    this.acquires = perTurn((endpointId, args) => {
      const k = this.keys(endpointId);
      return commands.hookrelayAcquire(k.breaker, k.leases, k.tat, k.pause, k.waiting, k.slots, k.admitted, ...args);
    }, 5, (flat, at): Admission | null => {
      const [allowed, waitMs, reason] = [Number(flat[at]), Number(flat[at + 1]), String(flat[at + 2])];
      if (allowed === 1) return { allowed: true, probe: reason === 'probe' };
      if (reason === 'follows') return null;
      const [holdMs, spacingMs] = [Number(flat[at + 3]), Number(flat[at + 4])];
      const denial = { allowed: false, waitMs: Math.max(1, waitMs), reason: reason as DenyReason } as const;
      return holdMs > 0 ? { ...denial, hold: { holdMs, spacingMs } } : denial;
    }, () => (this.unsent = new Set()));
    this.records = perTurn((endpointId, args) => {
      const k = this.keys(endpointId);
      return commands.hookrelayRecord(k.breaker, k.leases, k.pause, k.window, ...args);
    }, 2, (flat, at) => {
      const since = Number(flat[at + 1]);
      return { transition: String(flat[at]) as Transition, failingSince: since > 0 ? since : null };
    });
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
    this.unsent.add(leaseId);
    return (await this.ask(endpointId, settings, [leaseId, again ? 0 : Math.max(1, Math.floor(jobs)), ''], leaseMs))!;
  }

  /**
   * Asks for a batch member right behind the batch's first request (`firstLeaseId`), in the same
   * script call, when that request was made in this turn and is not sent yet: admitted with it in
   * one round trip, unless the first is held back other than by the rate limit. Answers null,
   * with nothing asked or changed, when the member must wait for the first's answer instead.
   */
  async acquireAfter(
    firstLeaseId: string,
    endpointId: string,
    settings: ProtectionSettings,
    leaseId: string,
    leaseMs: number,
  ): Promise<Admission | null> {
    if (!this.unsent.has(firstLeaseId)) return null;
    return this.ask(endpointId, settings, [leaseId, 1, firstLeaseId], leaseMs);
  }

  private ask(endpointId: string, settings: ProtectionSettings, own: (string | number)[], leaseMs: number) {
    const rate = settings.rateLimit;
    return this.acquires.load({
      endpointId,
      settings: [leaseMs, settings.maxInFlight, rate?.perSecond ?? 0, rate?.burst ?? 1, leaseMs],
      own,
    });
  }

  /** Reports how an admitted attempt went; answers the breaker transition it caused. */
  async record(
    endpointId: string,
    settings: ProtectionSettings,
    leaseId: string,
    outcome: Outcome,
    { retryAfterMs = 0, disableNow = false }: { retryAfterMs?: number; disableNow?: boolean } = {},
  ): Promise<{ transition: Transition; failingSince: number | null }> {
    const b = settings.breaker;
    return this.records.load({
      endpointId,
      settings: [
        b.windowSize,
        b.minimumAttempts,
        b.failureRatePercent,
        b.consecutiveFailures,
        b.cooldownMs,
        b.maxCooldownMs,
        settings.autoDisableAfterMs,
      ],
      own: [leaseId, outcome, Math.round(retryAfterMs), disableNow ? 1 : 0],
    });
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

  /**
   * Forgets everything about an endpoint: used when a tenant re-enables or deletes it. The API
   * and worker processes forget the holds they remember of it (`listenForHolds`) too.
   */
  async reset(endpointId: string): Promise<void> {
    const k = this.keys(endpointId);
    await this.redis.del(k.breaker, k.leases, k.tat, k.pause, k.window, k.waiting, k.slots, k.admitted);
    await this.redis.publish(holdChannel(this.prefixName), resetNotice(endpointId));
  }

  /**
   * Tells the other processes (`listenForHolds`) of a refusal that holds the endpoint back for a
   * while, standing for `jobs` jobs: the API adds its next jobs already delayed, other workers
   * hold them back without asking. Never throws and is not waited for: a notice is a hint.
   */
  announceHold(endpointId: string, admission: Admission, jobs: number): void {
    if (admission.allowed || !admission.hold) return;
    this.redis.publish(holdChannel(this.prefixName), holdNotice(endpointId, { ...admission, hold: admission.hold }, jobs, this.origin)).catch(() => {});
  }
}
