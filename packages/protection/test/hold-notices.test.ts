import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTION } from '@hookrelay/domain';
import { deleteRedisKeys, eventually, testPrefix, TEST_REDIS_URL } from '@hookrelay/testing';
import { applyHoldNotice, EndpointGuard, EndpointHolds, holdNotice, listenForHolds, resetNotice, type Admission } from '../src/index.ts';

const open = (holdMs: number, spreadMs = 0, spacingMs = 25) =>
  ({ allowed: false, waitMs: holdMs + spreadMs, reason: 'circuit_open', hold: { holdMs, spacingMs } }) as const;

describe('hold notices', () => {
  it('remember what the gate answered, as the worker that asked remembers it', () => {
    const told = new EndpointHolds();
    const asked = new EndpointHolds();
    asked.remember('ep', open(5_000, 100), 4);
    applyHoldNotice(told, holdNotice('ep', open(5_000, 100), 4));
    const a = told.holdBack('ep', 2)!;
    const b = asked.holdBack('ep', 2)!;
    expect(a.reason).toBe('circuit_open');
    // The two clocks are read a moment apart.
    expect(Math.abs(a.waitMs - b.waitMs)).toBeLessThan(20);
    expect(a.waitMs).toBeGreaterThan(5_000 + 100);
  });

  it('forget an endpoint on a reset notice', () => {
    const holds = new EndpointHolds();
    applyHoldNotice(holds, holdNotice('ep', open(5_000), 1));
    applyHoldNotice(holds, resetNotice('ep'));
    expect(holds.holdBack('ep', 1)).toBeNull();
  });

  it("skip a process's own holds, which it remembers already, but not another's", () => {
    const holds = new EndpointHolds();
    applyHoldNotice(holds, holdNotice('ep', open(5_000), 1, 'me'), 'me');
    expect(holds.holdBack('ep', 1)).toBeNull();
    applyHoldNotice(holds, holdNotice('ep', open(5_000), 1, 'another'), 'me');
    expect(holds.holdBack('ep', 1)?.reason).toBe('circuit_open');
  });

  it('ignore anything malformed', () => {
    const holds = new EndpointHolds();
    const good = JSON.parse(holdNotice('ep', open(5_000), 1)) as Record<string, unknown>;
    for (const bad of [
      'not json',
      'null',
      '42',
      JSON.stringify({ ...good, e: '' }),
      JSON.stringify({ ...good, e: 7 }),
      JSON.stringify({ ...good, r: 'sleepy' }),
      JSON.stringify({ ...good, h: -1 }),
      JSON.stringify({ ...good, w: 'soon' }),
      JSON.stringify({ ...good, s: Number.NaN }),
      JSON.stringify({ ...good, j: undefined }),
    ]) {
      expect(() => applyHoldNotice(holds, bad)).not.toThrow();
    }
    expect(holds.size).toBe(0);
  });

  describe('over Redis', () => {
    const prefix = testPrefix();
    let redis: Redis;
    let subscriber: Redis;
    let guard: EndpointGuard;
    const holds = new EndpointHolds();
    let listening: ReturnType<typeof listenForHolds>;

    beforeAll(async () => {
      redis = new Redis(TEST_REDIS_URL);
      subscriber = new Redis(TEST_REDIS_URL);
      guard = new EndpointGuard(redis, prefix);
      listening = listenForHolds(subscriber, prefix, holds);
      await listening.subscribed;
    });
    afterAll(async () => {
      await listening.stop();
      await deleteRedisKeys(prefix);
      redis.disconnect();
    });

    it("reach a listener from the gate's refusal, and a reset voids them", async () => {
      const ep = randomUUID();
      const s = { ...DEFAULT_PROTECTION, breaker: { ...DEFAULT_PROTECTION.breaker, consecutiveFailures: 1, cooldownMs: 3_000, maxCooldownMs: 3_000 } };
      const lease = randomUUID();
      const first = await guard.acquire(ep, s, lease, 5_000);
      expect(first.allowed).toBe(true);
      expect((await guard.record(ep, s, lease, 'failure')).transition).toBe('opened');
      const refused: Admission = await guard.acquire(ep, s, randomUUID(), 5_000);
      expect(refused).toMatchObject({ allowed: false, reason: 'circuit_open', hold: { holdMs: expect.any(Number) } });

      guard.announceHold(ep, refused, 1);
      const held = await eventually(() => holds.holdBack(ep, 1), 2_000, 10);
      expect(held.reason).toBe('circuit_open');
      expect(held.waitMs).toBeGreaterThan(2_000);

      await guard.reset(ep);
      await eventually(() => holds.holdBack(ep, 1) === null, 2_000, 10);
    });

    it('leave other prefixes alone', async () => {
      const elsewhere = new EndpointGuard(redis, testPrefix());
      const ep = randomUUID();
      elsewhere.announceHold(ep, open(5_000), 1);
      guard.announceHold(ep, { allowed: true, probe: false }, 1);
      // A notice on this prefix after both: once it is in, the others would have been too.
      const marker = randomUUID();
      guard.announceHold(marker, open(5_000), 1);
      await eventually(() => holds.holdBack(marker, 1), 2_000, 10);
      expect(holds.holdBack(ep, 1)).toBeNull();
    });
  });
});
