import { describe, expect, it } from 'vitest';
import { EndpointHolds, type Admission } from '../src/index.ts';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const openFor = (holdMs: number, spreadMs = 0, spacingMs = 25): Admission => ({
  allowed: false,
  waitMs: holdMs + spreadMs,
  reason: 'circuit_open',
  hold: { holdMs, spacingMs },
});

describe('EndpointHolds', () => {
  it('holds back the next jobs until the hold ends, each after the last at the gate’s pace', () => {
    const c = clock();
    const holds = new EndpointHolds(1_000, c.now);
    // The gate refused a batch of 4 with 100 ms of spread: the next job comes after those 4.
    holds.remember('ep', openFor(5_000, 100), 4);
    expect(holds.holdBack('ep', 2)).toEqual({ waitMs: 5_000 + 100 + 100, reason: 'circuit_open' });
    c.advance(200);
    // 2 more at 40 a second: 50 ms later again; the hold itself is 200 ms nearer.
    expect(holds.holdBack('ep', 1)).toEqual({ waitMs: 4_800 + 250, reason: 'circuit_open' });
    expect(holds.holdBack('other', 1)).toBeNull();
  });

  it('trusts an answer for a short while only, and never past the hold', () => {
    const c = clock();
    const holds = new EndpointHolds(1_000, c.now);
    holds.remember('long', openFor(30_000), 1);
    holds.remember('short', { allowed: false, waitMs: 300, reason: 'retry_after', hold: { holdMs: 300, spacingMs: 25 } }, 1);
    c.advance(299);
    expect(holds.holdBack('long', 1)?.reason).toBe('circuit_open');
    expect(holds.holdBack('short', 1)).toEqual({ waitMs: 1 + 25, reason: 'retry_after' });
    c.advance(1);
    expect(holds.holdBack('short', 1)).toBeNull();
    c.advance(700);
    // A second after the gate's answer, the next job asks the gate again.
    expect(holds.holdBack('long', 1)).toBeNull();
  });

  it('forgets an endpoint whose attempt ended here, and remembers only answers that carry a hold', () => {
    const holds = new EndpointHolds();
    holds.remember('ep', openFor(5_000), 1);
    holds.forget('ep');
    expect(holds.holdBack('ep', 1)).toBeNull();
    holds.remember('ep', { allowed: false, waitMs: 800, reason: 'circuit_probing' }, 1);
    holds.remember('ep', { allowed: false, waitMs: 50, reason: 'rate_limited' }, 1);
    holds.remember('ep', { allowed: true, probe: false }, 1);
    expect(holds.holdBack('ep', 1)).toBeNull();
  });

  it('holds a full cap that is slow to free for the time one slot is expected to take, then asks again', () => {
    const c = clock();
    const holds = new EndpointHolds(1_000, c.now);
    holds.remember('slow', { allowed: false, waitMs: 500, reason: 'max_in_flight', hold: { holdMs: 500, spacingMs: 500 } }, 1);
    expect(holds.holdBack('slow', 1)).toEqual({ waitMs: 1_000, reason: 'max_in_flight' });
    c.advance(499);
    expect(holds.holdBack('slow', 1)).toEqual({ waitMs: 1 + 1_000, reason: 'max_in_flight' });
    c.advance(1);
    expect(holds.holdBack('slow', 1)).toBeNull();
  });

  it('keeps counting its crowd across the gate’s answers while it trusts them, and spreads it 60 s at most', () => {
    const c = clock();
    const holds = new EndpointHolds(1_000, c.now);
    holds.remember('ep', openFor(10_000), 40); // 1 s of the pace
    expect(holds.holdBack('ep', 40)?.waitMs).toBe(10_000 + 1_000);
    // A single job's refusal at the gate (the first of its second there): the crowd held here still counts.
    holds.remember('ep', openFor(10_000), 1);
    expect(holds.holdBack('ep', 1)?.waitMs).toBe(10_000 + 2_000 + 25);
    holds.holdBack('ep', 40 * 120);
    expect(holds.holdBack('ep', 1)?.waitMs).toBe(10_000 + 60_000);
  });

  it('keeps no more answers than endpoints held back within the last second, however many it saw', () => {
    const c = clock();
    const holds = new EndpointHolds(1_000, c.now);
    for (let i = 0; i < 5_000; i++) {
      holds.remember(`ep-${i}`, openFor(30_000), 1);
      c.advance(1);
    }
    // Each sweep leaves only the answers of the last second.
    expect(holds.size).toBeLessThanOrEqual(2_048);
    expect(holds.holdBack('ep-4999', 1)?.reason).toBe('circuit_open');
    expect(holds.holdBack('ep-0', 1)).toBeNull();
  });
});
