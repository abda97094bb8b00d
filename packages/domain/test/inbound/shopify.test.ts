import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../src/inbound/index.ts';
import { NOW, callOf, expectRejected, hmacOf, sampleCall, signatureContract } from './helpers.ts';

const shopifyProvider = PROVIDERS.shopify;
const secret = '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';
const otherSecret = 'shpss_rotated_8e0f5d7c2a9e1b3f6d2b7f6e3d9c';
const body = JSON.stringify({ id: 820_982_911_946_154_508, email: 'jon@example.com', total_price: '598.94', currency: 'USD', note: 'Größe M' });
const deliveryHeaders = {
  'content-type': 'application/json',
  'x-shopify-topic': 'orders/create',
  'x-shopify-shop-domain': 'example.myshopify.com',
  'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
  'x-shopify-api-version': '2025-07',
  'x-shopify-event-id': '98880550-7158-44d4-b7cd-2c97c8a091b5',
  'x-shopify-triggered-at': '2026-01-15T12:00:00.000Z',
  'x-shopify-test': 'false',
};
const sign = (s: string, payload: string) => ({ ...deliveryHeaders, 'x-shopify-hmac-sha256': hmacOf('sha256', s, payload, 'base64') });

describe('shopify', () => {
  signatureContract({
    adapter: shopifyProvider,
    secret,
    otherSecret,
    body,
    sign,
    signatureHeader: 'x-shopify-hmac-sha256',
    forged: Buffer.alloc(32, 7).toString('base64'),
    tamper: (b) => b.replace('598.94', '0.01'),
  });

  it('expects base64, not hex', () => {
    const hex = hmacOf('sha256', secret, body, 'hex');
    expectRejected(shopifyProvider.verify(callOf(body, { 'x-shopify-hmac-sha256': hex }), [secret]), 'malformed_signature');
    expectRejected(shopifyProvider.verify(callOf(body, { 'x-shopify-hmac-sha256': 'c2hvcnQ=' }), [secret]), 'malformed_signature');
  });

  it('takes the type from the topic, dedupes on the webhook id, and keeps the delivery headers but not the HMAC', () => {
    const call = callOf(body, sign(secret, body));
    expect(shopifyProvider.describe(call, shopifyProvider.parseBody(call))).toEqual({
      eventType: 'orders/create',
      dedupKey: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
      sourceHeaders: {
        'x-shopify-topic': 'orders/create',
        'x-shopify-shop-domain': 'example.myshopify.com',
        'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
        'x-shopify-api-version': '2025-07',
        'x-shopify-event-id': '98880550-7158-44d4-b7cd-2c97c8a091b5',
        'x-shopify-triggered-at': '2026-01-15T12:00:00.000Z',
      },
    });
  });

  it('signs an orders/create sample whose signature node:crypto reproduces', () => {
    const sample = shopifyProvider.signedSample(secret, NOW);
    expect(sample.headers['x-shopify-hmac-sha256']).toBe(hmacOf('sha256', secret, sample.body, 'base64'));
    expect(sample.headers['x-shopify-topic']).toBe('orders/create');
    const call = sampleCall(sample, NOW);
    expect(shopifyProvider.describe(call, shopifyProvider.parseBody(call)).dedupKey).toBe(sample.headers['x-shopify-webhook-id']);
  });
});
