import { randomInt, randomUUID } from 'node:crypto';
import { JSON_CONTENT_TYPE, header, parseJsonBody, pickHeaders } from './common.ts';
import { signBody, verifyBodyHmac, type BodyHmacScheme } from './body-hmac.ts';
import type { ProviderAdapter } from './types.ts';

/** Base64 HMAC-SHA256 of the raw body, keyed by the app's client secret. No timestamp is signed. */
const SCHEME: BodyHmacScheme = { header: 'x-shopify-hmac-sha256', algorithm: 'sha256', encoding: 'base64' };
const KEPT_HEADERS = [
  'x-shopify-topic',
  'x-shopify-shop-domain',
  'x-shopify-webhook-id',
  'x-shopify-api-version',
  'x-shopify-event-id',
  'x-shopify-triggered-at',
] as const;

export const shopifyProvider: ProviderAdapter = {
  name: 'shopify',

  verify: (call, secrets) => verifyBodyHmac(call, secrets, SCHEME),

  parseBody: parseJsonBody,

  /**
   * The topic (`orders/create`) names the event. Shopify's current docs de-duplicate deliveries on
   * `X-Shopify-Webhook-Id`; `X-Shopify-Event-Id` is kept, since it groups the deliveries of one
   * event to several subscriptions.
   */
  describe(call) {
    return {
      eventType: header(call, 'x-shopify-topic') ?? null,
      dedupKey: header(call, 'x-shopify-webhook-id') ?? null,
      sourceHeaders: pickHeaders(call, KEPT_HEADERS),
    };
  },

  signedSample(secret, nowMs) {
    const at = new Date(nowMs).toISOString();
    const orderId = randomInt(5_000_000_000, 9_000_000_000);
    const body = JSON.stringify({
      id: orderId,
      admin_graphql_api_id: `gid://shopify/Order/${orderId}`,
      name: `#${randomInt(1000, 9999)}`,
      email: 'jon@example.com',
      created_at: at,
      updated_at: at,
      currency: 'USD',
      financial_status: 'paid',
      fulfillment_status: null,
      total_price: '199.00',
      subtotal_price: '189.00',
      total_tax: '10.00',
      line_items: [{ id: randomInt(10_000_000_000, 20_000_000_000), title: 'Aviator sunglasses', quantity: 1, price: '189.00', sku: 'SKU2006-001' }],
      customer: { id: randomInt(6_000_000_000, 7_000_000_000), email: 'jon@example.com', first_name: 'Jon', last_name: 'Doe' },
    });
    return {
      body,
      contentType: JSON_CONTENT_TYPE,
      headers: {
        'content-type': JSON_CONTENT_TYPE,
        'x-shopify-topic': 'orders/create',
        'x-shopify-shop-domain': 'sample-shop.myshopify.com',
        'x-shopify-api-version': '2025-07',
        'x-shopify-webhook-id': randomUUID(),
        'x-shopify-event-id': randomUUID(),
        'x-shopify-triggered-at': at,
        [SCHEME.header]: signBody(secret, body, SCHEME),
      },
    };
  },
};
