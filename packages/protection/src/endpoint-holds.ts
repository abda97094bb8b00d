import type { Admission, DenyReason } from './endpoint-guard.ts';

/** The gate spreads a crowd it holds back by at most this much (as `acquire.lua` does). */
const MAX_SPREAD_MS = 60_000;

interface Held {
  reason: DenyReason;
  /** When the endpoint takes jobs again (epoch ms). */
  until: number;
  /** When this process stops trusting the answer and asks the gate again. */
  forgetAt: number;
  perSecond: number;
  /** The spread the next job held back here gets: after those the gate and this process held back. */
  nextSpreadMs: number;
}

/**
 * What the gate last said, in this process, about endpoints that take nothing for a known time
 * (an open breaker before its next probe, a Retry-After pause). For a short while (`rememberMs`)
 * the next jobs to such an endpoint are held back here as the gate would hold them (until the
 * hold ends, each one later than the last at the gate's pace), without reading their deliveries
 * or asking Redis: an endpoint that times out would otherwise cost a read and a gate call per
 * job, as much as a delivery. An answer is trusted for `rememberMs` at most, so a breaker reset
 * by the API (re-enabling a subscription) is seen within that time. A success to the endpoint in
 * this process forgets it at once.
 */
export class EndpointHolds {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly rememberMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The gate's answer to a request standing for `jobs` jobs (a batch held back whole stands for its members). */
  remember(endpointId: string, admission: Admission, jobs: number): void {
    if (admission.allowed || !admission.hold) return;
    const { holdMs, perSecond } = admission.hold;
    const now = this.now();
    const spread = Math.max(0, admission.waitMs - holdMs);
    const before = this.held.get(endpointId);
    // The gate counts only the current second's crowd; while an answer is trusted, this process
    // keeps counting its own after it.
    const after = before && now < before.forgetAt ? Math.max(spread, before.nextSpreadMs) : spread;
    this.held.set(endpointId, {
      reason: admission.reason,
      until: now + holdMs,
      forgetAt: now + Math.min(this.rememberMs, holdMs),
      perSecond,
      nextSpreadMs: after + (1000 * jobs) / perSecond,
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
    if (now >= h.forgetAt || now >= h.until) {
      this.held.delete(endpointId);
      return null;
    }
    const spread = Math.min(Math.floor(h.nextSpreadMs), MAX_SPREAD_MS);
    h.nextSpreadMs += (1000 * jobs) / h.perSecond;
    return { waitMs: h.until - now + spread, reason: h.reason };
  }

  /** The endpoint answered well here: whatever held it back is over. */
  forget(endpointId: string): void {
    this.held.delete(endpointId);
  }
}
