import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { PROVIDERS, TIMESTAMP_TOLERANCE_MS } from '../../src/inbound/index.ts';
import { NOW, NOW_SECONDS, callOf, expectRejected, hmacOf, sampleCall, signatureContract, without } from './helpers.ts';

const standardWebhooksProvider = PROVIDERS.standard_webhooks;
const secret = `whsec_${Buffer.alloc(32, 0x42).toString('base64')}`;
const otherSecret = `whsec_${Buffer.alloc(24, 0x17).toString('base64')}`;
const msgId = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
const body = JSON.stringify({ type: 'invoice.paid', timestamp: '2026-01-15T12:00:00Z', data: { id: 'inv_123', amount: 4900, memo: 'überweisung ✓' } });

// The spec repository's own test vector.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: '1614265330',
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

/** The standardwebhooks reference library signs. */
function sign(s: string, payload: string, nowMs: number, id = msgId) {
  const signature = new Webhook(s).sign(id, new Date(nowMs), payload);
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(nowMs / 1000)), 'webhook-signature': signature };
}

const verify = (payload: string, headers: Record<string, string | undefined>, secrets = [secret], nowMs = NOW) =>
  standardWebhooksProvider.verify(callOf(payload, headers, nowMs), secrets);

describe('standard webhooks', () => {
  signatureContract({
    adapter: standardWebhooksProvider,
    secret,
    otherSecret,
    body,
    sign,
    signatureHeader: 'webhook-signature',
    forged: `v1,${Buffer.alloc(32, 9).toString('base64')}`,
    tamper: (b) => b.replace('4900', '49'),
  });

  it("verifies the spec's test vector at its own time", () => {
    const headers = { 'webhook-id': VECTOR.id, 'webhook-timestamp': VECTOR.timestamp, 'webhook-signature': VECTOR.signature };
    const at = Number(VECTOR.timestamp) * 1000;
    expect(verify(VECTOR.payload, headers, [VECTOR.secret], at)).toEqual({ ok: true });
    expect(verify(VECTOR.payload, headers, [VECTOR.secret.slice('whsec_'.length)], at)).toEqual({ ok: true });
    expectRejected(verify(VECTOR.payload, headers, [VECTOR.secret], NOW), 'stale_timestamp');
  });

  it('base64-decodes the secret: keying by its text (the Stripe way) does not verify', () => {
    const text = hmacOf('sha256', VECTOR.secret, `${VECTOR.id}.${VECTOR.timestamp}.${VECTOR.payload}`, 'base64');
    const headers = { 'webhook-id': VECTOR.id, 'webhook-timestamp': VECTOR.timestamp, 'webhook-signature': `v1,${text}` };
    expectRejected(verify(VECTOR.payload, headers, [VECTOR.secret], Number(VECTOR.timestamp) * 1000), 'invalid_signature');
  });

  it('accepts the svix- header family', () => {
    const h = sign(secret, body, NOW);
    const svix = { 'svix-id': h['webhook-id'], 'svix-timestamp': h['webhook-timestamp'], 'svix-signature': h['webhook-signature'] };
    expect(verify(body, svix)).toEqual({ ok: true });
    const call = callOf(body, svix);
    expect(standardWebhooksProvider.describe(call, standardWebhooksProvider.parseBody(call))).toEqual({
      eventType: 'invoice.paid',
      dedupKey: msgId,
      sourceHeaders: { 'svix-id': msgId, 'svix-timestamp': String(NOW_SECONDS) },
    });
    expectRejected(verify(body, without(svix, 'svix-signature')), 'missing_signature');
  });

  it('accepts when any entry of a space-separated list matches, and skips other versions', () => {
    const good = sign(secret, body, NOW)['webhook-signature'];
    const forged = `v1,${Buffer.alloc(32, 1).toString('base64')}`;
    const ed25519 = `v1a,${Buffer.alloc(64, 2).toString('base64')}`;
    const headers = (signature: string) => ({ ...sign(secret, body, NOW), 'webhook-signature': signature });
    expect(verify(body, headers(`${forged} ${good}`))).toEqual({ ok: true });
    expect(verify(body, headers(`${ed25519} ${good} v2,abc`))).toEqual({ ok: true });
    expectRejected(verify(body, headers(`${forged} ${ed25519}`)), 'invalid_signature');
    expectRejected(verify(body, headers(ed25519)), 'malformed_signature');
    expectRejected(verify(body, headers(good.replace('v1,', 'v1='))), 'malformed_signature');
  });

  it('counts a correct MAC only under v1, never under another version label', () => {
    const mac = sign(secret, body, NOW)['webhook-signature'].slice('v1,'.length);
    const headers = (signature: string) => ({ ...sign(secret, body, NOW), 'webhook-signature': signature });
    expect(verify(body, headers(`v1,${mac}`))).toEqual({ ok: true });
    expectRejected(verify(body, headers(`v1a,${mac}`)), 'malformed_signature');
    expectRejected(verify(body, headers(`v2,${mac} V1,${mac}`)), 'malformed_signature');
  });

  it('signs the message id: a genuine signature under another id fails', () => {
    expectRejected(verify(body, { ...sign(secret, body, NOW), 'webhook-id': 'msg_other' }), 'invalid_signature');
  });

  it('needs the id and timestamp headers, the timestamp as unix seconds', () => {
    const headers = sign(secret, body, NOW);
    expectRejected(verify(body, without(headers, 'webhook-id')), 'missing_signature');
    expectRejected(verify(body, without(headers, 'webhook-timestamp')), 'missing_signature');
    expectRejected(verify(body, { ...headers, 'webhook-timestamp': new Date(NOW).toISOString() }), 'malformed_signature');
  });

  it('refuses stale timestamps in both directions and accepts the edges of the window', () => {
    for (const skew of [-TIMESTAMP_TOLERANCE_MS - 1000, TIMESTAMP_TOLERANCE_MS + 1000, -3_600_000, 3_600_000]) {
      expectRejected(verify(body, sign(secret, body, NOW + skew)), 'stale_timestamp');
    }
    for (const skew of [-TIMESTAMP_TOLERANCE_MS, TIMESTAMP_TOLERANCE_MS]) {
      expect(verify(body, sign(secret, body, NOW + skew))).toEqual({ ok: true });
    }
  });

  it('skips a secret that is not base64 instead of throwing', () => {
    const headers = sign(secret, body, NOW);
    expect(verify(body, headers, ['whsec_not base64!', secret])).toEqual({ ok: true });
    expectRejected(verify(body, headers, ['whsec_not base64!']), 'invalid_signature');
  });

  it('describes the message by its id and body type, keeping id and timestamp but not the signature', () => {
    const call = callOf(body, sign(secret, body, NOW));
    expect(standardWebhooksProvider.describe(call, standardWebhooksProvider.parseBody(call))).toEqual({
      eventType: 'invoice.paid',
      dedupKey: msgId,
      sourceHeaders: { 'webhook-id': msgId, 'webhook-timestamp': String(NOW_SECONDS) },
    });
  });

  it('signs samples that the standardwebhooks library verifies', () => {
    const now = Date.now();
    const sample = standardWebhooksProvider.signedSample(secret, now);
    expect(new Webhook(secret).verify(sample.body, sample.headers)).toEqual(JSON.parse(sample.body));
    expect(() => new Webhook(otherSecret).verify(sample.body, sample.headers)).toThrow();
    expect(standardWebhooksProvider.verify(sampleCall(sample, now), [secret])).toEqual({ ok: true });
    expect(() => standardWebhooksProvider.signedSample('whsec_not base64!', now)).toThrow(/base64/);
  });
});
