import { LRUCache } from 'lru-cache';

/** Takes `count` from a shared fixed-window counter; answers its value after the increment and the window's ms left. */
export type TakeCounts = (key: string, count: number, windowMs: number) => Promise<{ counter: number; ttl: number }>;

/** A run of counts this process took from the shared counter and hands out itself. */
interface Lease {
  /** The count the next request takes, up to `last`. */
  next: number;
  last: number;
  /** When the counter's window ends (by this process's clock). */
  endsAt: number;
  /** Counts taken the last time: the next lease of the same window takes twice as many. */
  size: number;
  /** Requests waiting for the lease being taken. */
  waiting: ((err: Error | null, result?: { current: number; ttl: number }) => void)[] | null;
}

/** The most a lease takes, as a share of the window's allowance: what a tenant at its limit may leave unused per API process. */
const MAX_LEASE_SHARE = 50;

/**
 * Per-tenant request counts taken from Redis in runs rather than one by one. Each request still
 * gets the count it would have had (`current`), so a limit holds exactly with one API process and
 * is never exceeded with several: every count is taken from the shared counter before it is
 * handed out. The runs start at 1 in each window and double while a key stays busy, up to a 50th
 * of the window's allowance, so a quiet tenant takes what it uses and a busy one makes a Redis
 * call per run instead of per request. With several API processes, a tenant at its limit may be
 * refused up to a 50th of its allowance per process early, counts taken but not yet used.
 */
export class CountLeases {
  private readonly leases: LRUCache<string, Lease>;

  constructor(
    private readonly takeCounts: TakeCounts,
    /** Keys remembered at most (tenants and sources that are busy at once). */
    maxKeys = 10_000,
  ) {
    this.leases = new LRUCache({ max: maxKeys });
  }

  take(key: string, windowMs: number, max: number, cb: (err: Error | null, result?: { current: number; ttl: number }) => void): void {
    const now = Date.now();
    let lease = this.leases.get(key);
    if (lease && lease.endsAt <= now && !lease.waiting) {
      this.leases.delete(key);
      lease = undefined;
    }
    if (lease?.waiting) {
      lease.waiting.push(cb);
      return;
    }
    if (lease && lease.next <= lease.last) {
      cb(null, { current: lease.next++, ttl: lease.endsAt - now });
      return;
    }
    const cap = Math.max(1, Math.floor(max / MAX_LEASE_SHARE));
    this.renew(key, windowMs, lease ? Math.min(lease.size * 2, cap) : 1, cap, lease, [cb]);
  }

  private renew(key: string, windowMs: number, size: number, cap: number, previous: Lease | undefined, waiting: NonNullable<Lease['waiting']>): void {
    const pending: Lease = previous ?? { next: 1, last: 0, endsAt: 0, size, waiting: null };
    pending.waiting = waiting;
    if (!previous) this.leases.set(key, pending);
    this.takeCounts(key, size, windowMs).then(
      ({ counter, ttl }) => {
        const now = Date.now();
        const served = pending.waiting!;
        Object.assign(pending, { next: counter - size + 1, last: counter, endsAt: now + ttl, size, waiting: null });
        let i = 0;
        for (; i < served.length && pending.next <= pending.last; i++) served[i]!(null, { current: pending.next++, ttl });
        // More arrived while the run was taken than it holds: the rest wait for a larger one.
        if (i < served.length) this.renew(key, windowMs, Math.min(Math.max(size * 2, served.length - i), cap), cap, pending, served.slice(i));
      },
      (err: Error) => {
        const failed = pending.waiting!;
        this.leases.delete(key);
        for (const cb of failed) cb(err);
      },
    );
  }
}
