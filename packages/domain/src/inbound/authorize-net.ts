import { randomUUID } from 'node:crypto';
import { JSON_CONTENT_TYPE, asRecord, parseJsonBody, stringField } from './common.ts';
import { verifyBodyHmac, type BodyHmacScheme } from './body-hmac.ts';
import { hmac } from './hmac.ts';
import type { ProviderAdapter } from './types.ts';

/**
 * `X-ANET-Signature: sha512=<HEX>`: HMAC-SHA512 of the raw body in upper-case hex. The key is the
 * Signature Key's text. It looks like hex, but hex-decoding it gives a different MAC (checked on a
 * published vector). Hex is decoded to bytes before comparing, so case does not matter.
 */
const SCHEME: BodyHmacScheme = {
  header: 'x-anet-signature',
  algorithm: 'sha512',
  encoding: 'hex',
  prefix: 'sha512=',
  prefixIgnoresCase: true,
};

export const authorizeNetProvider: ProviderAdapter = {
  name: 'authorize_net',

  verify: (call, secrets) => verifyBodyHmac(call, secrets, SCHEME),

  parseBody: parseJsonBody,

  describe(_call, body) {
    const notification = asRecord(body);
    return {
      eventType: stringField(notification?.eventType),
      dedupKey: stringField(notification?.notificationId),
      sourceHeaders: {},
    };
  },

  signedSample(secret, nowMs) {
    const body = JSON.stringify({
      notificationId: randomUUID(),
      eventType: 'net.authorize.payment.authcapture.created',
      eventDate: new Date(nowMs).toISOString(),
      webhookId: randomUUID(),
      payload: {
        responseCode: 1,
        authCode: 'LZ6I19',
        avsResponse: 'Y',
        authAmount: 45.0,
        merchantReferenceId: randomUUID().replaceAll('-', '').slice(0, 20),
        entityName: 'transaction',
        id: String(120_000_000_000 + Math.floor(Math.random() * 1_000_000_000)),
      },
    });
    // Authorize.Net sends upper-case hex; the sample does too, so it exercises the case-blind compare.
    const signature = `sha512=${hmac('sha512', secret, body).toString('hex').toUpperCase()}`;
    return { body, contentType: JSON_CONTENT_TYPE, headers: { 'content-type': JSON_CONTENT_TYPE, [SCHEME.header]: signature } };
  },
};
