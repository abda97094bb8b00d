import { describe, expect, it } from 'vitest';
import { PROVIDERS, type GenericHmacConfig } from '../../src/inbound/index.ts';
import { NOW, callOf, expectRejected, hmacOf, sampleCall, signatureContract } from './helpers.ts';

const genericHmacProvider = PROVIDERS.generic_hmac;
const secret = 'generic-secret-d41d8cd98f00b204';
const otherSecret = 'generic-secret-rotated-e9800998ecf8427e';
const body = JSON.stringify({ id: 'del_01HZX3', type: 'invoice.created', data: { amount: 1250, note: 'ça va' } });

const configs: Record<string, GenericHmacConfig> = {
  'sha256 hex with a prefix': { header: 'X-Signature', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=', idHeader: 'X-Delivery-Id' },
  'sha512 base64 without a prefix': { header: 'x-hook-signature', algorithm: 'sha512', encoding: 'base64' },
};

function signer(config: GenericHmacConfig) {
  return (s: string, payload: string) => ({
    'content-type': 'application/json',
    'x-delivery-id': 'dlv_7781',
    [config.header.toLowerCase()]: (config.prefix ?? '') + hmacOf(config.algorithm, s, payload, config.encoding),
  });
}

describe('generic hmac', () => {
  for (const [name, config] of Object.entries(configs)) {
    describe(name, () => {
      const bytes = config.algorithm === 'sha256' ? 32 : 64;
      const forgedBytes = Buffer.alloc(bytes, 0x6b);
      signatureContract({
        adapter: genericHmacProvider,
        config,
        secret,
        otherSecret,
        body,
        sign: signer(config),
        signatureHeader: config.header.toLowerCase(),
        forged: (config.prefix ?? '') + forgedBytes.toString(config.encoding),
        tamper: (b) => b.replace('1250', '125000'),
      });
    });
  }

  const hexConfig = configs['sha256 hex with a prefix']!;
  const base64Config = configs['sha512 base64 without a prefix']!;

  it('compares hex case-insensitively', () => {
    const upper = `sha256=${hmacOf('sha256', secret, body, 'hex').toUpperCase()}`;
    expect(genericHmacProvider.verify(callOf(body, { 'x-signature': upper }), [secret], hexConfig)).toEqual({ ok: true });
  });

  it('needs the configured prefix, algorithm length and encoding', () => {
    const hex = hmacOf('sha256', secret, body, 'hex');
    const check = (value: string, config: GenericHmacConfig) =>
      genericHmacProvider.verify(callOf(body, { [config.header.toLowerCase()]: value }), [secret], config);
    expectRejected(check(hex, hexConfig), 'malformed_signature');
    expectRejected(check(`sha256=${hmacOf('sha512', secret, body, 'hex')}`, hexConfig), 'malformed_signature');
    expectRejected(check(`sha256=${hmacOf('sha256', secret, body, 'base64')}`, hexConfig), 'malformed_signature');
    expectRejected(check(hmacOf('sha256', secret, body, 'base64'), base64Config), 'malformed_signature');
    expectRejected(check(hmacOf('sha512', secret, body, 'hex'), base64Config), 'malformed_signature');
  });

  it('fails closed without a usable config, and a sample needs one', () => {
    const headers = signer(hexConfig)(secret, body);
    expectRejected(genericHmacProvider.verify(callOf(body, headers), [secret]), 'invalid_signature');
    const broken = { ...hexConfig, algorithm: 'md5' } as unknown as GenericHmacConfig;
    expectRejected(genericHmacProvider.verify(callOf(body, headers), [secret], broken), 'invalid_signature');
    expect(() => genericHmacProvider.signedSample(secret, NOW)).toThrow(/config/);
  });

  it('dedupes on the configured id header only, and keeps that header', () => {
    const call = callOf(body, signer(hexConfig)(secret, body));
    expect(genericHmacProvider.describe(call, genericHmacProvider.parseBody(call), hexConfig)).toEqual({
      eventType: 'invoice.created',
      dedupKey: 'dlv_7781',
      sourceHeaders: { 'x-delivery-id': 'dlv_7781' },
    });
    const withoutHeader = callOf(body, {});
    expect(genericHmacProvider.describe(withoutHeader, JSON.parse(body), hexConfig).dedupKey).toBeNull();
  });

  it('without an id header, dedupes on body id (string or number) and finds the type under type, event or eventType', () => {
    const call = callOf(body, {});
    const d = (b: unknown) => genericHmacProvider.describe(call, b, base64Config);
    expect(d(JSON.parse(body))).toEqual({ eventType: 'invoice.created', dedupKey: 'del_01HZX3', sourceHeaders: {} });
    expect(d({ id: 991, event: 'user.signup' })).toEqual({ eventType: 'user.signup', dedupKey: '991', sourceHeaders: {} });
    expect(d({ eventType: 'Order Shipped', id: { nested: true } })).toEqual({ eventType: 'Order Shipped', dedupKey: null, sourceHeaders: {} });
    expect(d({ type: 'a', event: 'b', eventType: 'c' }).eventType).toBe('a');
    expect(d([1, 2, 3])).toEqual({ eventType: null, dedupKey: null, sourceHeaders: {} });
  });

  it('signs samples in the configured shape, with the id header when one is configured', () => {
    const sample = genericHmacProvider.signedSample(secret, NOW, hexConfig);
    expect(sample.headers['x-signature']).toBe(`sha256=${hmacOf('sha256', secret, sample.body, 'hex')}`);
    expect(sample.headers['x-delivery-id']).toBe(JSON.parse(sample.body).id);
    const b64 = genericHmacProvider.signedSample(secret, NOW, base64Config);
    expect(b64.headers['x-hook-signature']).toBe(hmacOf('sha512', secret, b64.body, 'base64'));
    expect(genericHmacProvider.verify(sampleCall(b64, NOW), [secret], base64Config)).toEqual({ ok: true });
    expect(genericHmacProvider.verify(sampleCall(b64, NOW), [secret], hexConfig).ok).toBe(false);
  });
});
