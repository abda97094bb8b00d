import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/inbound/index.ts';
import { NOW, callOf, expectRejected, hmacOf, sampleCall, signatureContract } from './helpers.ts';

const paystackProvider = PROVIDERS.paystack;
const secret = 'sk_test_6a9c2e1f0b8d4a7c3e5f9b1d2c4a6e8f0b2d4c6a';
const otherSecret = 'sk_test_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c';
// Paystack's documented charge.success shape (doc-code-snippets), trimmed.
const body = JSON.stringify({
  event: 'charge.success',
  data: { id: 302961, domain: 'live', status: 'success', reference: 'qTPrJoy9Bx', amount: 10000, currency: 'NGN', customer: { email: 'ada@example.com' } },
});
const sign = (s: string, payload: string) => ({ 'content-type': 'application/json', 'x-paystack-signature': hmacOf('sha512', s, payload, 'hex') });

describe('paystack', () => {
  signatureContract({
    adapter: paystackProvider,
    secret,
    otherSecret,
    body,
    sign,
    signatureHeader: 'x-paystack-signature',
    forged: '1a'.repeat(64),
    tamper: (b) => b.replace('10000', '1000000'),
  });

  it('signs with hex HMAC-SHA512 of the raw bytes, compared independently of case', () => {
    const expected = createHmac('sha512', secret).update(Buffer.from(body)).digest('hex');
    expect(expected).toHaveLength(128);
    expect(paystackProvider.verify(callOf(body, { 'x-paystack-signature': expected }), [secret])).toEqual({ ok: true });
    expect(paystackProvider.verify(callOf(body, { 'x-paystack-signature': expected.toUpperCase() }), [secret])).toEqual({ ok: true });
  });

  it('refuses a SHA-256 signature where SHA-512 is expected', () => {
    const sha256 = hmacOf('sha256', secret, body, 'hex');
    expectRejected(paystackProvider.verify(callOf(body, { 'x-paystack-signature': sha256 }), [secret]), 'malformed_signature');
  });

  it('verifies the exact bytes: re-serialised JSON does not pass', () => {
    const spaced = JSON.stringify(JSON.parse(body), null, 2);
    expectRejected(paystackProvider.verify(callOf(spaced, sign(secret, body)), [secret]), 'invalid_signature');
  });

  it('dedupes on event and data.id, falling back to data.reference', () => {
    const call = callOf(body, sign(secret, body));
    expect(paystackProvider.describe(call, paystackProvider.parseBody(call))).toEqual({
      eventType: 'charge.success',
      dedupKey: 'charge.success:302961',
      sourceHeaders: {},
    });
    const transfer = { event: 'transfer.success', data: { reference: 'trf_9x8y7z', amount: 5000 } };
    expect(paystackProvider.describe(call, transfer).dedupKey).toBe('transfer.success:trf_9x8y7z');
    expect(paystackProvider.describe(call, { event: 'charge.success', data: {} })).toEqual({ eventType: 'charge.success', dedupKey: null, sourceHeaders: {} });
    expect(paystackProvider.describe(call, { data: { id: 1 } })).toEqual({ eventType: null, dedupKey: null, sourceHeaders: {} });
  });

  it('signs a charge.success sample whose signature node:crypto reproduces', () => {
    const sample = paystackProvider.signedSample(secret, NOW);
    expect(sample.headers['x-paystack-signature']).toBe(hmacOf('sha512', secret, sample.body, 'hex'));
    const call = sampleCall(sample, NOW);
    const parsed = paystackProvider.parseBody(call) as { event: string; data: { id: number } };
    expect(paystackProvider.describe(call, parsed).dedupKey).toBe(`charge.success:${parsed.data.id}`);
  });
});
