import { randomUUID } from 'node:crypto';
import { JSON_CONTENT_TYPE, asRecord, compoundKey, idField, parseJsonBody, stringField } from './common.ts';
import { signBody, verifyBodyHmac, type BodyHmacScheme } from './body-hmac.ts';
import type { ProviderAdapter } from './types.ts';

/**
 * HMAC-SHA512 of the raw body, keyed by the account's secret API key (`sk_live_…`): Paystack has no
 * separate webhook secret, so rotating the API key rotates this too. No timestamp is signed.
 */
const SCHEME: BodyHmacScheme = { header: 'x-paystack-signature', algorithm: 'sha512', encoding: 'hex' };

export const paystackProvider: ProviderAdapter = {
  name: 'paystack',

  verify: (call, secrets) => verifyBodyHmac(call, secrets, SCHEME),

  parseBody: parseJsonBody,

  /**
   * Paystack sends no delivery id. `event` + `data.id` names one notification (one transaction can
   * have several events); `data.reference` stands in for events whose data carries no id.
   */
  describe(_call, body) {
    const event = asRecord(body);
    const data = asRecord(event?.data);
    const type = stringField(event?.event);
    return { eventType: type, dedupKey: compoundKey(type, idField(data?.id) ?? idField(data?.reference)), sourceHeaders: {} };
  },

  signedSample(secret, nowMs) {
    const at = new Date(nowMs).toISOString();
    const body = JSON.stringify({
      event: 'charge.success',
      data: {
        id: 3_000_000_000 + Math.floor(Math.random() * 1_000_000_000),
        domain: 'test',
        status: 'success',
        reference: randomUUID().replaceAll('-', '').slice(0, 12),
        amount: 50_000,
        message: null,
        gateway_response: 'Successful',
        paid_at: at,
        created_at: at,
        channel: 'card',
        currency: 'NGN',
        ip_address: '203.0.113.7',
        metadata: { order_id: randomUUID() },
        fees: 750,
        customer: { id: 84_312, first_name: 'Ada', last_name: 'Obi', email: 'ada@example.com', customer_code: 'CUS_xnxdt6s1zg1f4nx' },
        authorization: { authorization_code: 'AUTH_f5rnfq9p', bin: '408408', last4: '4081', exp_month: '12', exp_year: '2030', channel: 'card', card_type: 'visa', bank: 'TEST BANK', country_code: 'NG', brand: 'visa', reusable: true },
      },
    });
    return { body, contentType: JSON_CONTENT_TYPE, headers: { 'content-type': JSON_CONTENT_TYPE, [SCHEME.header]: signBody(secret, body, SCHEME) } };
  },
};
