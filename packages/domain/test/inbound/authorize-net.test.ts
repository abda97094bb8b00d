import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/inbound/index.ts';
import { NOW, callOf, expectRejected, hmacOf, sampleCall, signatureContract } from './helpers.ts';

const authorizeNetProvider = PROVIDERS.authorize_net;

// Public vector from the Authorize.Net developer community (reference notes §4).
const VECTOR_KEY =
  'A6214F6105625D5ED957CF02E749BB440DBD4E418533D219CAD26AECD104BFFE7F47DBBE5C81927CCA484AE7722BE82CE57FB5318EDE02122277A2FE90EE68EB';
const VECTOR_BODY =
  '{"notificationId":"570f7282-687a-42b7-903b-48e487d7694d","eventType":"net.authorize.payment.authcapture.created","eventDate":"2023-12-12T12:45:09.3492643Z","webhookId":"a585ea29-a370-495a-bd83-f9be7160f260","payload":{"responseCode":1,"avsResponse":"P","authAmount":1.10,"merchantReferenceId":"2M4zHFzshYBudvgIZ11B","entityName":"transaction","id":"120011377052"}}';
const VECTOR_SIGNATURE =
  'sha512=8E3D41B0191A9A1E668FB729F350B73C6BBB81D676070FE7CFF001CA2543ABA91BD16A4374A0F6FA4542659728C7DAF79D7EC901FEC582FC2DA3263A2D604DCF';

const otherKey = 'B'.repeat(128);
const sign = (s: string, payload: string) => ({
  'content-type': 'application/json',
  'x-anet-signature': `sha512=${hmacOf('sha512', s, payload, 'hex').toUpperCase()}`,
});

describe('authorize.net', () => {
  signatureContract({
    adapter: authorizeNetProvider,
    secret: VECTOR_KEY,
    otherSecret: otherKey,
    body: VECTOR_BODY,
    sign,
    signatureHeader: 'x-anet-signature',
    forged: `sha512=${'9F'.repeat(64)}`,
    tamper: (b) => b.replace('"authAmount":1.10', '"authAmount":110'),
  });

  it('verifies the published vector, upper-case hex, with the Signature Key used as text', () => {
    expect(authorizeNetProvider.verify(callOf(VECTOR_BODY, { 'x-anet-signature': VECTOR_SIGNATURE }), [VECTOR_KEY])).toEqual({ ok: true });
  });

  it('does not verify the vector with the Signature Key hex-decoded', () => {
    const decoded = hmacOf('sha512', Buffer.from(VECTOR_KEY, 'hex'), VECTOR_BODY, 'hex').toUpperCase();
    expect(`sha512=${decoded}`).not.toBe(VECTOR_SIGNATURE);
    expectRejected(authorizeNetProvider.verify(callOf(VECTOR_BODY, { 'x-anet-signature': `sha512=${decoded}` }), [VECTOR_KEY]), 'invalid_signature');
  });

  it('compares the hex case-insensitively, prefix included', () => {
    const lower = VECTOR_SIGNATURE.toLowerCase();
    expect(authorizeNetProvider.verify(callOf(VECTOR_BODY, { 'x-anet-signature': lower }), [VECTOR_KEY])).toEqual({ ok: true });
    const upperPrefix = `SHA512=${VECTOR_SIGNATURE.slice('sha512='.length)}`;
    expect(authorizeNetProvider.verify(callOf(VECTOR_BODY, { 'x-anet-signature': upperPrefix }), [VECTOR_KEY])).toEqual({ ok: true });
  });

  it('verifies exact bytes: the body with 1.1 instead of 1.10 does not pass', () => {
    const reserialised = VECTOR_BODY.replace('"authAmount":1.10', '"authAmount":1.1');
    expectRejected(authorizeNetProvider.verify(callOf(reserialised, { 'x-anet-signature': VECTOR_SIGNATURE }), [VECTOR_KEY]), 'invalid_signature');
  });

  it('needs the sha512= prefix', () => {
    const bare = VECTOR_SIGNATURE.slice('sha512='.length);
    expectRejected(authorizeNetProvider.verify(callOf(VECTOR_BODY, { 'x-anet-signature': bare }), [VECTOR_KEY]), 'malformed_signature');
  });

  it('describes the notification by its notificationId and eventType', () => {
    const call = callOf(VECTOR_BODY, { 'x-anet-signature': VECTOR_SIGNATURE });
    expect(authorizeNetProvider.describe(call, authorizeNetProvider.parseBody(call))).toEqual({
      eventType: 'net.authorize.payment.authcapture.created',
      dedupKey: '570f7282-687a-42b7-903b-48e487d7694d',
      sourceHeaders: {},
    });
  });

  it('signs samples in upper-case hex that node:crypto reproduces', () => {
    const sample = authorizeNetProvider.signedSample(VECTOR_KEY, NOW);
    expect(sample.headers['x-anet-signature']).toBe(`sha512=${hmacOf('sha512', VECTOR_KEY, sample.body, 'hex').toUpperCase()}`);
    expect(sample.headers['x-anet-signature']).toMatch(/^sha512=[0-9A-F]{128}$/);
    const call = sampleCall(sample, NOW);
    const description = authorizeNetProvider.describe(call, authorizeNetProvider.parseBody(call));
    expect(description.eventType).toBe('net.authorize.payment.authcapture.created');
    expect(description.dedupKey).toMatch(/^[0-9a-f-]{36}$/);
  });
});
