import type { Admission, DenyReason } from './endpoint-guard.ts';

/** The gate spreads a crowd it holds back by at most this much (as `acquire.lua` does). */
const MAX_SPREAD_MS = 60_000;

interface Held {
  reason: DenyReason;
  /** When the endpoint takes jobs again, for sure or as expected (epoch ms). */
  until: number;
  /** When this process stops trusting the answer and asks the gate again. */
  forgetAt: number;
  spacingMs: number;
  /** The spread the next job held back here gets: after those the gate and this process held back. */
  nextSpreadMs: number;
}

/**
 * What the gate last said, in this process, about endpoints that take nothing for a while: a
 * Retry-After pause or an open breaker (until a known time), or a full in-flight cap that the
 * endpoint is slow to free (the time one slot is expected to take). For a short while
 * (`rememberMs`, and never past that time) the next jobs to such an endpoint are held back here
 * as the gate would hold them (until the hold ends, each one `spacingMs` later than the last),
 * without reading their deliveries or asking Redis: an endpoint that hangs would otherwise cost a
 * read and a gate call per job, as much as a delivery. An answer is trusted for `rememberMs` at
 * most, so a breaker reset by the API (re-enabling a subscription) or a slot freed by another
 * process is seen within that time; an attempt to the endpoint that ends in this process forgets
 * it at once (`forget`).
 */
export class EndpointHolds {
  private readonly held = new Map<string, Held>();
  /** Answers are dropped when asked about after they expire; past this many, expired ones are swept. */
  private sweepAt = 1_024;

  constructor(
    private readonly rememberMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The gate's answer to a request standing for `jobs` jobs (a batch held back whole stands for its members). */
  remember(endpointId: string, admission: Admission, jobs: number): void {
    if (admission.allowed || !admission.hold) return;
    const { holdMs, spacingMs } = admission.hold;
    const now = this.now();
    if (this.held.size >= this.sweepAt) this.sweep(now);
    const spread = Math.max(0, admission.waitMs - holdMs);
    const before = this.held.get(endpointId);
    // The gate counts only the current second's crowd; while an answer is trusted, this process
    // keeps counting its own after it.
    const after = before && now < before.forgetAt ? Math.max(spread, before.nextSpreadMs) : spread;
    this.held.set(endpointId, {
      reason: admission.reason,
      until: now + holdMs,
      forgetAt: now + Math.min(this.rememberMs, holdMs),
      spacingMs,
      nextSpreadMs: after + jobs * spacingMs,
    });
  }

  /**
   * How long `jobs` more jobs to the endpoint should wait and why, when it is held back by an answer
   * still trusted; otherwise null (ask the gate).
   */
  holdBack(endpointId: string, jobs: number): { waitMs: number; reason: DenyReason } | null {
    const h = this.held.get(endpointId);
    if (!h) return null;
    const now = this.now();
    if (now >= h.forgetAt) {
      this.held.delete(endpointId);
      return null;
    }
    const spread = Math.min(h.nextSpreadMs, MAX_SPREAD_MS);
    h.nextSpreadMs += jobs * h.spacingMs;
    return { waitMs: h.until - now + spread, reason: h.reason };
  }

  /** Endpoints with an answer kept, expired or not. */
  get size(): number {
    return this.held.size;
  }

  /** Endpoints held back once and never asked about again would otherwise stay for ever. */
  private sweep(now: number): void {
    for (const [endpointId, h] of this.held) if (now >= h.forgetAt) this.held.delete(endpointId);
    this.sweepAt = Math.max(1_024, 2 * this.held.size);
  }

  /** An attempt to the endpoint ended here (a slot freed, perhaps a probe answered): ask the gate again. */
  forget(endpointId: string): void {
    this.held.delete(endpointId);
  }
}
