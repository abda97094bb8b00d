import { describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { PROVIDERS, TIMESTAMP_TOLERANCE_MS } from '../../src/inbound/index.ts';
import { NOW, NOW_SECONDS, callOf, expectRejected, hmacOf, sampleCall, signatureContract } from './helpers.ts';

const stripeProvider = PROVIDERS.stripe;
const stripe = new Stripe('sk_test_not_used_for_webhooks');
const secret = 'whsec_3f1c0e9a8b7d6c5e4f3a2b1c0d9e8f7a';
const otherSecret = 'whsec_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d';
const body = JSON.stringify({
  id: 'evt_1Q2w3E4r5T6y7U8i',
  object: 'event',
  type: 'payment_intent.succeeded',
  data: { object: { id: 'pi_3Q2w3E4r5T6y7U8i', object: 'payment_intent', amount: 2000, currency: 'usd', description: 'crème brûlée ✓' } },
});

/** Stripe's own library signs; seconds, as Stripe's `t` is. */
function header(s: string, payload: string, seconds: number): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret: s, timestamp: seconds });
}

const verify = (payload: string, signature: string | undefined, secrets = [secret]) =>
  stripeProvider.verify(callOf(payload, { 'stripe-signature': signature }), secrets);

describe('stripe', () => {
  signatureContract({
    adapter: stripeProvider,
    secret,
    otherSecret,
    body,
    sign: (s, payload, nowMs) => ({ 'stripe-signature': header(s, payload, Math.floor(nowMs / 1000)) }),
    signatureHeader: 'stripe-signature',
    forged: `t=${NOW_SECONDS},v1=${'ab'.repeat(32)}`,
    tamper: (b) => b.replace('2000', '2001'),
  });

  it('signs the way the stripe library does: hex HMAC-SHA256 of "t.body" keyed by the whsec_ text', () => {
    const manual = hmacOf('sha256', secret, `${NOW_SECONDS}.${body}`, 'hex');
    expect(header(secret, body, NOW_SECONDS)).toBe(`t=${NOW_SECONDS},v1=${manual}`);
    expect(verify(body, `t=${NOW_SECONDS},v1=${manual}`)).toEqual({ ok: true });
  });

  it('does not base64-decode the whsec_ secret (that is Standard Webhooks, not Stripe)', () => {
    const decodedKey = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const wrong = hmacOf('sha256', decodedKey, `${NOW_SECONDS}.${body}`, 'hex');
    expectRejected(verify(body, `t=${NOW_SECONDS},v1=${wrong}`), 'invalid_signature');
  });

  it('accepts when any of several v1 signatures matches, in any position', () => {
    const good = header(secret, body, NOW_SECONDS).split(',v1=')[1]!;
    const bad = 'cd'.repeat(32);
    expect(verify(body, `t=${NOW_SECONDS},v1=${bad},v1=${good}`)).toEqual({ ok: true });
    expect(verify(body, `t=${NOW_SECONDS},v1=${good},v1=${bad},v0=${bad}`)).toEqual({ ok: true });
    expectRejected(verify(body, `t=${NOW_SECONDS},v1=${bad},v1=${'ef'.repeat(32)}`), 'invalid_signature');
  });

  it('ignores v0: a correct signature under v0 does not count, and v0 alone is malformed', () => {
    const good = header(secret, body, NOW_SECONDS).split(',v1=')[1]!;
    expectRejected(verify(body, `t=${NOW_SECONDS},v1=${'00'.repeat(32)},v0=${good}`), 'invalid_signature');
    expectRejected(verify(body, `t=${NOW_SECONDS},v0=${good}`), 'malformed_signature');
  });

  it('refuses headers it cannot read', () => {
    const good = header(secret, body, NOW_SECONDS).split(',v1=')[1]!;
    for (const bad of [`v1=${good}`, `t=abc,v1=${good}`, `t=${NOW_SECONDS}`, `t=${NOW_SECONDS},v1=xyz`, `t=1,t=2,v1=${good}`, `t=${NOW_SECONDS},v1=${good.slice(2)}`]) {
      expectRejected(verify(body, bad), 'malformed_signature');
    }
  });

  it('signs the timestamp as sent, so a re-formatted one does not verify', () => {
    const good = header(secret, body, NOW_SECONDS).split(',v1=')[1]!;
    expectRejected(verify(body, `t=0${NOW_SECONDS},v1=${good}`), 'invalid_signature');
  });

  it('refuses stale timestamps in both directions and accepts the edges of the window', () => {
    const tolerance = TIMESTAMP_TOLERANCE_MS / 1000;
    for (const skew of [-tolerance - 1, tolerance + 1, -3600, 3600]) {
      const verdict = verify(body, header(secret, body, NOW_SECONDS + skew));
      expectRejected(verdict, 'stale_timestamp');
    }
    for (const skew of [-tolerance, tolerance, -1, 1]) {
      expect(verify(body, header(secret, body, NOW_SECONDS + skew))).toEqual({ ok: true });
    }
  });

  it('says invalid rather than stale when a stale call is also forged', () => {
    expectRejected(verify(body, header(otherSecret, body, NOW_SECONDS - 3600)), 'invalid_signature');
  });

  it('describes the event by its body id and type and keeps no headers', () => {
    const call = callOf(body, { 'stripe-signature': header(secret, body, NOW_SECONDS) });
    const description = stripeProvider.describe(call, stripeProvider.parseBody(call));
    expect(description).toEqual({ eventType: 'payment_intent.succeeded', dedupKey: 'evt_1Q2w3E4r5T6y7U8i', sourceHeaders: {} });
    expect(stripeProvider.describe(call, ['not', 'an', 'event'])).toEqual({ eventType: null, dedupKey: null, sourceHeaders: {} });
  });

  it('signs samples that the stripe library itself accepts', () => {
    const now = Date.now();
    const sample = stripeProvider.signedSample(secret, now);
    const event = stripe.webhooks.constructEvent(sample.body, sample.headers['stripe-signature']!, secret);
    expect(event.type).toBe('payment_intent.succeeded');
    expect(event.id).toMatch(/^evt_/);
    expect(stripeProvider.verify(sampleCall(sample, now), [secret])).toEqual({ ok: true });
    expect(() => stripe.webhooks.constructEvent(sample.body, sample.headers['stripe-signature']!, otherSecret)).toThrow();
  });
});
