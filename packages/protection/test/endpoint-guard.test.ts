import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTION, type ProtectionSettings } from '@hookrelay/domain';
import { deleteRedisKeys, testPrefix, TEST_REDIS_URL } from '@hookrelay/testing';
import { queuePrefix } from '@hookrelay/queue';
import { EndpointGuard, type Admission } from '../src/index.ts';

const settings = (over: Partial<ProtectionSettings> = {}): ProtectionSettings => ({ ...DEFAULT_PROTECTION, ...over });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EndpointGuard', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let redis2: Redis;
  let guard: EndpointGuard;
  let other: EndpointGuard;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
    guard = new EndpointGuard(redis, prefix);
    // A second client stands for a second worker process.
    redis2 = new Redis(TEST_REDIS_URL);
    other = new EndpointGuard(redis2, prefix);
  });
  afterAll(async () => {
    await deleteRedisKeys(prefix);
    redis.disconnect();
    redis2.disconnect();
  });

  it('spaces attempts by the rate limit across clients (GCRA), allowing the burst at once', async () => {
    const ep = randomUUID();
    const s = settings({ rateLimit: { perSecond: 10, burst: 3 }, maxInFlight: 0 });
    const results = [];
    for (let i = 0; i < 5; i++) {
      const g = i % 2 ? other : guard;
      const lease = randomUUID();
      const a = await g.acquire(ep, s, lease, 5_000);
      results.push(a);
      if (a.allowed) await g.record(ep, s, lease, 'success');
    }
    expect(results.slice(0, 3).every((r) => r.allowed)).toBe(true);
    const denied = results[3]!;
    expect(denied).toMatchObject({ allowed: false, reason: 'rate_limited' });
    expect(denied.allowed === false && denied.waitMs).toBeGreaterThan(50);
    expect(denied.allowed === false && denied.waitMs).toBeLessThanOrEqual(100);
    await sleep(110);
    expect((await guard.acquire(ep, s, randomUUID(), 5_000)).allowed).toBe(true);
  });

  it('caps attempts in flight and frees a slot when one finishes or its lease expires', async () => {
    const ep = randomUUID();
    const s = settings({ maxInFlight: 2 });
    expect((await guard.acquire(ep, s, 'a', 300)).allowed).toBe(true);
    expect((await other.acquire(ep, s, 'b', 5_000)).allowed).toBe(true);
    expect(await guard.acquire(ep, s, 'c', 5_000)).toMatchObject({ allowed: false, reason: 'max_in_flight' });
    await guard.record(ep, s, 'b', 'success');
    expect((await guard.acquire(ep, s, 'c', 5_000)).allowed).toBe(true);
    expect((await guard.acquire(ep, s, 'd', 5_000)).allowed).toBe(false);
    // Lease 'a' belonged to a worker that died: it expires on its own.
    await sleep(350);
    expect((await guard.acquire(ep, s, 'd', 5_000)).allowed).toBe(true);
  });

  it('opens after consecutive failures, lets exactly one probe through, and closes on success', async () => {
    const ep = randomUUID();
    const s = settings({ breaker: { ...DEFAULT_PROTECTION.breaker, consecutiveFailures: 3, cooldownMs: 200, maxCooldownMs: 1_000 } });
    const transitions = [];
    for (let i = 0; i < 3; i++) {
      const lease = randomUUID();
      expect((await guard.acquire(ep, s, lease, 5_000)).allowed).toBe(true);
      transitions.push((await guard.record(ep, s, lease, 'failure')).transition);
    }
    expect(transitions).toEqual(['', '', 'opened']);
    expect(await guard.acquire(ep, s, randomUUID(), 5_000)).toMatchObject({ allowed: false, reason: 'circuit_open' });
    const health = await guard.health(ep);
    expect(health.state).toBe('open');
    expect(health.failureRate).toBeNull(); // the window restarts when the breaker trips
    expect(health.openedAt).not.toBeNull();

    await sleep(220);
    const attempts = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? other : guard).acquire(ep, s, `probe-${i}`, 5_000)),
    );
    const probes = attempts.filter((a) => a.allowed);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toEqual({ allowed: true, probe: true });
    expect(attempts.filter((a) => !a.allowed).every((a) => !a.allowed && a.reason === 'circuit_probing')).toBe(true);

    // The probe fails: open again, with a longer cooldown.
    const probeLease = `probe-${attempts.findIndex((a) => a.allowed)}`;
    expect((await guard.record(ep, s, probeLease, 'failure')).transition).toBe('reopened');
    const reopened = await guard.acquire(ep, s, randomUUID(), 5_000);
    expect(reopened).toMatchObject({ allowed: false, reason: 'circuit_open' });
    expect(!reopened.allowed && reopened.waitMs).toBeGreaterThan(250);

    await sleep(420);
    const lease = randomUUID();
    expect(await guard.acquire(ep, s, lease, 5_000)).toEqual({ allowed: true, probe: true });
    expect((await guard.record(ep, s, lease, 'success')).transition).toBe('recovered');
    expect((await guard.health(ep)).state).toBe('closed');
    expect((await guard.acquire(ep, s, randomUUID(), 5_000)).allowed).toBe(true);
  });

  it('spreads a crowd held back by an open breaker, and by a probe in flight, instead of bringing it back at once', async () => {
    const ep = randomUUID();
    const s = settings({ maxInFlight: 10, breaker: { ...DEFAULT_PROTECTION.breaker, consecutiveFailures: 1, cooldownMs: 300, maxCooldownMs: 1_000 } });
    const lease = randomUUID();
    await guard.acquire(ep, s, lease, 5_000);
    expect((await guard.record(ep, s, lease, 'failure')).transition).toBe('opened');
    const waitsOf = (admissions: Admission[], reason: string) =>
      admissions.map((a) => (!a.allowed && a.reason === reason ? a.waitMs : Number.NaN));

    const refused = await Promise.all(Array.from({ length: 80 }, (_, i) => (i % 2 ? other : guard).acquire(ep, s, randomUUID(), 5_000)));
    const open = waitsOf(refused, 'circuit_open');
    expect(open.every(Number.isFinite)).toBe(true);
    // Each refusal tells how long the endpoint takes nothing and the pace of the spread on top.
    for (const a of refused) {
      if (a.allowed || !a.hold) throw new Error(`no hold in ${JSON.stringify(a)}`);
      expect(a.hold.spacingMs).toBe(25); // 40 a second
      expect(a.hold.holdMs).toBeLessThanOrEqual(300);
      expect(a.waitMs - a.hold.holdMs).toBeGreaterThanOrEqual(0);
    }
    expect(Math.min(...open)).toBeLessThanOrEqual(300);
    // 80 jobs at the pace 10 slots are expected to take (40 a second): the last ~2 s after the first.
    expect(Math.max(...open) - Math.min(...open)).toBeGreaterThan(1_500);

    await sleep(320);
    expect(await guard.acquire(ep, s, 'probe', 5_000)).toEqual({ allowed: true, probe: true });
    const probingAnswers = await Promise.all(Array.from({ length: 80 }, () => guard.acquire(ep, s, randomUUID(), 5_000)));
    const probing = waitsOf(probingAnswers, 'circuit_probing');
    expect(probing.every(Number.isFinite)).toBe(true);
    // A probe may answer at any moment: no hold of known length.
    expect(probingAnswers.some((a) => !a.allowed && a.hold)).toBe(false);
    expect(Math.min(...probing)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...probing)).toBeGreaterThan(2_000);
    // Never past the probe's lease: by then the breaker has decided.
    expect(Math.max(...probing)).toBeLessThanOrEqual(5_000);
  });

  it('counts a refusal for a whole batch as all of its jobs waiting, so the jobs refused after it wait longer', async () => {
    const s = settings({ maxInFlight: 1 });
    const waitAfter = async (jobs: number) => {
      const ep = randomUUID();
      expect((await guard.acquire(ep, s, randomUUID(), 60_000)).allowed).toBe(true);
      const batch = await guard.acquire(ep, s, randomUUID(), 60_000, { jobs });
      expect(batch).toMatchObject({ allowed: false, reason: 'max_in_flight' });
      const next = await other.acquire(ep, s, randomUUID(), 60_000);
      expect(next).toMatchObject({ allowed: false, reason: 'max_in_flight' });
      return { batch: batch.allowed ? 0 : batch.waitMs, next: next.allowed ? 0 : next.waitMs };
    };
    const single = await waitAfter(1);
    const ofFifty = await waitAfter(50);
    // The batch itself is first in line either way; the job after 50 waiting ones is 51st, at the
    // 4 a second one slot is expected to serve: about 12.75 s, against 0.5 s after a single job.
    expect(ofFifty.batch).toBe(single.batch);
    expect(single.next).toBeLessThan(1_000);
    expect(ofFifty.next).toBeGreaterThanOrEqual(12_000);
    expect(ofFifty.next).toBeLessThanOrEqual(13_000);
  });

  it('guesses an endpoint slow once all its requests have been open a while, so its backlog waits longer', async () => {
    const s = settings({ maxInFlight: 2 });
    const refusedAfter = async (openForMs: number) => {
      const ep = randomUUID();
      for (const lease of ['a', 'b']) expect((await guard.acquire(ep, s, lease, 60_000)).allowed).toBe(true);
      await sleep(openForMs);
      const refused = await other.acquire(ep, s, randomUUID(), 60_000);
      expect(refused).toMatchObject({ allowed: false, reason: 'max_in_flight' });
      if (refused.allowed || !refused.hold) throw new Error(`no hold in ${JSON.stringify(refused)}`);
      // The first job turned away waits the time one slot is expected to take to free: the hold.
      expect(refused.hold.holdMs).toBe(refused.waitMs);
      return refused;
    };
    // Just taken: the default guess, 4 a second per slot, so the first job waiting looks again in 125 ms.
    const fresh = await refusedAfter(0);
    expect(!fresh.allowed && fresh.waitMs).toBeLessThanOrEqual(130);
    expect(!fresh.allowed && fresh.hold!.spacingMs).toBe(125);
    // Both open for a second (a little more on a busy machine): about 2 slots a second free at
    // most, so it waits about 500 ms, and each job after it about 500 ms more.
    const aged = await refusedAfter(1_000);
    if (aged.allowed) throw new Error('admitted');
    expect(aged.waitMs).toBeGreaterThanOrEqual(450);
    expect(aged.waitMs).toBeLessThanOrEqual(700);
    expect(aged.hold!.spacingMs).toBeGreaterThanOrEqual(450);
    expect(aged.hold!.spacingMs).toBeLessThanOrEqual(700);
  });

  it('opens on the failure rate over the window once it holds the minimum attempts', async () => {
    const ep = randomUUID();
    const s = settings({ breaker: { ...DEFAULT_PROTECTION.breaker, consecutiveFailures: 100, minimumAttempts: 10, windowSize: 10 } });
    const outcomes: ('success' | 'failure')[] = ['success', 'failure', 'success', 'failure', 'success', 'failure', 'success', 'failure', 'success'];
    for (const o of outcomes) {
      const lease = randomUUID();
      await guard.acquire(ep, s, lease, 5_000);
      expect((await guard.record(ep, s, lease, o)).transition).toBe('');
    }
    expect((await guard.health(ep)).failureRate).toBeCloseTo(4 / 9);
    const lease = randomUUID();
    await guard.acquire(ep, s, lease, 5_000);
    expect((await guard.record(ep, s, lease, 'failure')).transition).toBe('opened'); // 5 of 10
  });

  it('pauses an endpoint for a Retry-After, for every client', async () => {
    const ep = randomUUID();
    const s = settings();
    const lease = randomUUID();
    await guard.acquire(ep, s, lease, 5_000);
    await guard.record(ep, s, lease, 'neutral', { retryAfterMs: 300 });
    const denied = await other.acquire(ep, s, randomUUID(), 5_000);
    expect(denied).toMatchObject({ allowed: false, reason: 'retry_after', hold: { spacingMs: 1000 / (DEFAULT_PROTECTION.maxInFlight * 4) } });
    expect(!denied.allowed && denied.waitMs).toBeGreaterThan(200);
    expect(!denied.allowed && denied.hold!.holdMs).toBeGreaterThan(200);
    expect(!denied.allowed && denied.hold!.holdMs).toBeLessThanOrEqual(300);
    await sleep(320);
    expect((await other.acquire(ep, s, randomUUID(), 5_000)).allowed).toBe(true);
  });

  it('asks for disabling once an endpoint has failed for the whole auto-disable window, once', async () => {
    const ep = randomUUID();
    const s = settings({ autoDisableAfterMs: 200, breaker: { ...DEFAULT_PROTECTION.breaker, consecutiveFailures: 1000, minimumAttempts: 1000, windowSize: 1000 } });
    const fail = async () => {
      const lease = randomUUID();
      await guard.acquire(ep, s, lease, 5_000);
      return guard.record(ep, s, lease, 'failure');
    };
    const first = await fail();
    expect(first.transition).toBe('');
    expect(first.failingSince).not.toBeNull();
    await sleep(220);
    expect((await fail()).transition).toBe('disable');
    expect((await fail()).transition).toBe('');
    // A success ends the failing run.
    const lease = randomUUID();
    await guard.acquire(ep, s, lease, 5_000);
    expect((await guard.record(ep, s, lease, 'success')).failingSince).toBeNull();
  });

  it('sends the calls to one endpoint made in one turn as one script call, each answered as if sent alone', async () => {
    // A client of its own, whose script calls are counted as they are sent once it is connected
    // (a command sent before is sent again from the offline queue).
    const counted = new Redis(TEST_REDIS_URL);
    await counted.ping();
    const scriptCalls: string[] = [];
    const sendCommand = counted.sendCommand.bind(counted);
    counted.sendCommand = ((command: Parameters<typeof sendCommand>[0]) => {
      if (command.name === 'evalsha' || command.name === 'eval') scriptCalls.push(command.name);
      return sendCommand(command);
    }) as typeof counted.sendCommand;
    const g = new EndpointGuard(counted, prefix);
    try {
      const [ep, quiet] = [randomUUID(), randomUUID()];
      const s = settings({ maxInFlight: 3, breaker: { ...DEFAULT_PROTECTION.breaker, consecutiveFailures: 2 } });
      const leases = Array.from({ length: 5 }, () => randomUUID());
      const admissions = await Promise.all([...leases.map((l) => g.acquire(ep, s, l, 5_000)), g.acquire(quiet, s, randomUUID(), 5_000)]);
      expect(admissions.map((a) => a.allowed)).toEqual([true, true, true, false, false, true]);
      expect(admissions[3]).toMatchObject({ allowed: false, reason: 'max_in_flight' });
      // One call per endpoint (a first EVALSHA of a script may be retried as EVAL).
      expect(scriptCalls.filter((c) => c === 'evalsha')).toHaveLength(2);

      scriptCalls.length = 0;
      const outcomes = ['success', 'failure', 'failure'] as const;
      const recorded = await Promise.all(outcomes.map((o, i) => g.record(ep, s, leases[i]!, o)));
      // In order: the second failure in a row opens the breaker, after the success reset the count.
      expect(recorded.map((r) => r.transition)).toEqual(['', '', 'opened']);
      expect(recorded[0]!.failingSince).toBeNull();
      expect(recorded[2]!.failingSince).toBe(recorded[1]!.failingSince);
      expect(scriptCalls.filter((c) => c === 'evalsha')).toHaveLength(1);
      expect(await other.acquire(ep, s, randomUUID(), 5_000)).toMatchObject({ allowed: false, reason: 'circuit_open' });
      // Every lease of the call was freed: the open breaker, not the cap, holds the endpoint.
      expect(await redis.zcard(`${queuePrefix(prefix)}:endpoint:${ep}:leases`)).toBe(0);
    } finally {
      counted.disconnect();
    }
  });

  it('admits a batch member in its first request\'s call, right behind it, only while the first may go', async () => {
    const k = (ep: string, key: string) => `${queuePrefix(prefix)}:endpoint:${ep}:${key}`;
    // The first admitted: members behind it are judged in the same call, against the cap.
    const ep = randomUUID();
    const capped = settings({ maxInFlight: 3 });
    const [first, ...members] = await Promise.all([
      guard.acquire(ep, capped, 'first', 5_000, { jobs: 4 }),
      ...['m1', 'm2', 'm3'].map((l) => guard.acquireAfter('first', ep, capped, l, 5_000)),
    ]);
    expect(first.allowed).toBe(true);
    expect(members.map((a) => a && a.allowed)).toEqual([true, true, false]);
    expect(members[2]).toMatchObject({ allowed: false, reason: 'max_in_flight' });
    expect(await redis.zrange(k(ep, 'leases'), 0, -1)).toEqual(expect.arrayContaining(['first', 'm1', 'm2']));

    // The first held back by a pause: the members are not judged, and count for nothing waiting.
    const paused = randomUUID();
    const lease = randomUUID();
    expect((await guard.acquire(paused, settings(), lease, 5_000)).allowed).toBe(true);
    await guard.record(paused, settings(), lease, 'neutral', { retryAfterMs: 10_000 });
    const [held, ...behind] = await Promise.all([
      guard.acquire(paused, settings(), 'first', 5_000, { jobs: 3 }),
      guard.acquireAfter('first', paused, settings(), 'm1', 5_000),
      guard.acquireAfter('first', paused, settings(), 'm2', 5_000),
    ]);
    expect(held).toMatchObject({ allowed: false, reason: 'retry_after' });
    expect(behind).toEqual([null, null]);
    expect(await redis.get(k(paused, 'waiting'))).toBe('3');

    // Rate-limited, each member waits for a slot of its own, later than the first's.
    const limited = randomUUID();
    const rate = settings({ maxInFlight: 0, rateLimit: { perSecond: 10, burst: 1 } });
    expect((await guard.acquire(limited, rate, randomUUID(), 5_000)).allowed).toBe(true);
    const [r0, r1, r2] = await Promise.all([
      guard.acquire(limited, rate, 'first', 5_000, { jobs: 3 }),
      guard.acquireAfter('first', limited, rate, 'm1', 5_000),
      guard.acquireAfter('first', limited, rate, 'm2', 5_000),
    ]);
    const waits = [r0, r1, r2].map((a) => (a && !a.allowed && a.reason === 'rate_limited' ? a.waitMs : null));
    expect(waits.every((w) => w !== null)).toBe(true);
    expect(waits[1]!).toBeGreaterThan(waits[0]!);
    expect(waits[2]!).toBeGreaterThan(waits[1]!);
  });

  it('answers a batch member asking after its first request was sent with null, asking nothing', async () => {
    const ep = randomUUID();
    const s = settings({ maxInFlight: 5 });
    const asked = guard.acquire(ep, s, 'first', 5_000, { jobs: 2 });
    await new Promise((r) => setImmediate(r));
    expect(await guard.acquireAfter('first', ep, s, 'late', 5_000)).toBeNull();
    expect((await asked).allowed).toBe(true);
    expect(await redis.zrange(`${queuePrefix(prefix)}:endpoint:${ep}:leases`, 0, -1)).toEqual(['first']);
  });
});
