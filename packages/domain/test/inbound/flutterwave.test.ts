import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/inbound/index.ts';
import { NOW, callOf, expectRejected, hmacOf, sampleCall, signatureContract } from './helpers.ts';

const flutterwaveProvider = PROVIDERS.flutterwave;
const secretHash = 'my-flw-secret-hash-1b9e4c';
const otherHash = 'my-flw-secret-hash-rotated-77aa';
const body = JSON.stringify({
  event: 'charge.completed',
  data: { id: 285_959_875, tx_ref: 'Links-616626414629', amount: 100, currency: 'NGN', status: 'successful', customer: { email: 'user@example.com' } },
  'event.type': 'CARD_TRANSACTION',
});
const signature = (s: string, payload: string) => hmacOf('sha256', s, payload, 'base64');

describe('flutterwave', () => {
  describe('flutterwave-signature (base64 HMAC-SHA256 of the body)', () => {
    signatureContract({
      adapter: flutterwaveProvider,
      secret: secretHash,
      otherSecret: otherHash,
      body,
      sign: (s, payload) => ({ 'content-type': 'application/json', 'flutterwave-signature': signature(s, payload) }),
      signatureHeader: 'flutterwave-signature',
      forged: Buffer.alloc(32, 0x5a).toString('base64'),
      tamper: (b) => b.replace('"amount":100', '"amount":100000'),
    });

    it('expects base64 of 32 bytes, not hex', () => {
      const hex = hmacOf('sha256', secretHash, body, 'hex');
      expectRejected(flutterwaveProvider.verify(callOf(body, { 'flutterwave-signature': hex }), [secretHash]), 'malformed_signature');
    });

    it('does not accept the plain secret hash in flutterwave-signature', () => {
      const verdict = flutterwaveProvider.verify(callOf(body, { 'flutterwave-signature': secretHash }), [secretHash]);
      expect(verdict.ok).toBe(false);
    });
  });

  describe('verif-hash (legacy: the secret hash itself)', () => {
    it('accepts the secret hash, under either of two secrets', () => {
      expect(flutterwaveProvider.verify(callOf(body, { 'verif-hash': secretHash }), [secretHash])).toEqual({ ok: true });
      expect(flutterwaveProvider.verify(callOf(body, { 'verif-hash': otherHash }), [secretHash, otherHash])).toEqual({ ok: true });
    });

    it('rejects any other value, including prefixes and extensions of the hash', () => {
      for (const bad of [otherHash, secretHash.slice(0, -1), `${secretHash}x`, secretHash.toUpperCase()]) {
        const verdict = flutterwaveProvider.verify(callOf(body, { 'verif-hash': bad }), [secretHash]);
        expectRejected(verdict, 'invalid_signature');
        expect(verdict.ok || verdict.message).not.toContain(secretHash);
      }
    });

    it('cannot detect a tampered body: verif-hash does not cover the body (a known limit of the legacy scheme)', () => {
      const tampered = body.replace('"amount":100', '"amount":100000');
      expect(flutterwaveProvider.verify(callOf(tampered, { 'verif-hash': secretHash }), [secretHash])).toEqual({ ok: true });
    });
  });

  it('answers missing_signature, naming both headers, when neither is present', () => {
    const verdict = flutterwaveProvider.verify(callOf(body, { 'content-type': 'application/json' }), [secretHash]);
    expectRejected(verdict, 'missing_signature');
    expect(verdict.ok || verdict.message).toMatch(/verif-hash.*flutterwave-signature/);
  });

  it('accepts a call carrying both headers when either one is valid', () => {
    const good = signature(secretHash, body);
    const forged = Buffer.alloc(32, 1).toString('base64');
    expect(flutterwaveProvider.verify(callOf(body, { 'verif-hash': 'wrong', 'flutterwave-signature': good }), [secretHash])).toEqual({ ok: true });
    expect(flutterwaveProvider.verify(callOf(body, { 'verif-hash': secretHash, 'flutterwave-signature': forged }), [secretHash])).toEqual({ ok: true });
    expect(flutterwaveProvider.verify(callOf(body, { 'verif-hash': secretHash, 'flutterwave-signature': 'garbage!' }), [secretHash])).toEqual({ ok: true });
    expectRejected(flutterwaveProvider.verify(callOf(body, { 'verif-hash': 'wrong', 'flutterwave-signature': forged }), [secretHash]), 'invalid_signature');
    expectRejected(flutterwaveProvider.verify(callOf(body, { 'verif-hash': 'wrong', 'flutterwave-signature': 'garbage!' }), [secretHash]), 'invalid_signature');
  });

  it('describes v3 bodies by event and data.id, v4 bodies by type, and never keeps verif-hash', () => {
    const call = callOf(body, { 'verif-hash': secretHash });
    expect(flutterwaveProvider.describe(call, flutterwaveProvider.parseBody(call))).toEqual({
      eventType: 'charge.completed',
      dedupKey: 'charge.completed:285959875',
      sourceHeaders: {},
    });
    expect(flutterwaveProvider.describe(call, { type: 'charge.completed', data: { id: 'chg_x1y2z3' } })).toMatchObject({
      eventType: 'charge.completed',
      dedupKey: 'charge.completed:chg_x1y2z3',
    });
    expect(flutterwaveProvider.describe(call, { event: 'charge.completed', data: {} }).dedupKey).toBeNull();
  });

  it('signs samples with flutterwave-signature only, so the secret hash never travels in the clear', () => {
    const sample = flutterwaveProvider.signedSample(secretHash, NOW);
    expect(sample.headers['flutterwave-signature']).toBe(signature(secretHash, sample.body));
    expect(sample.headers['verif-hash']).toBeUndefined();
    expect(JSON.stringify(sample)).not.toContain(secretHash);
    const call = sampleCall(sample, NOW);
    expect(flutterwaveProvider.describe(call, flutterwaveProvider.parseBody(call)).eventType).toBe('charge.completed');
  });
});
