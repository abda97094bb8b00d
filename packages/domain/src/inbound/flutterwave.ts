import { randomInt, randomUUID } from 'node:crypto';
import { safeEqual } from '../api-keys.ts';
import {
  JSON_CONTENT_TYPE,
  NO_SECRET,
  OK,
  asRecord,
  compoundKey,
  header,
  idField,
  invalid,
  malformed,
  missing,
  parseJsonBody,
  stringField,
  usableSecrets,
} from './common.ts';
import { DIGEST_BYTES, decodeBase64, hmac, matchesAny } from './hmac.ts';
import type { ProviderAdapter } from './types.ts';

/**
 * Legacy (v3): `verif-hash` carries the dashboard "secret hash" itself. It authenticates the
 * sender but not the body, so a tampered body under a genuine `verif-hash` still passes.
 */
const LEGACY_HEADER = 'verif-hash';
/**
 * Newer: `flutterwave-signature`, reported as base64 HMAC-SHA256 of the raw body keyed by the same
 * secret hash. The sources disagree on this (one SDK compares it as the plain hash), so it should
 * be confirmed against a sandbox delivery.
 */
const SIGNATURE_HEADER = 'flutterwave-signature';

export const flutterwaveProvider: ProviderAdapter = {
  name: 'flutterwave',

  /** Either header passes on its own; a call carrying both passes when either one is valid. */
  verify(call, secrets) {
    const legacy = header(call, LEGACY_HEADER);
    const signatureText = header(call, SIGNATURE_HEADER);
    if (legacy === undefined && signatureText === undefined) return missing(`${LEGACY_HEADER} or ${SIGNATURE_HEADER}`);
    const signature = signatureText === undefined ? undefined : decodeBase64(signatureText, DIGEST_BYTES.sha256);
    if (legacy === undefined && signature === null) {
      return malformed(`${SIGNATURE_HEADER} must be base64 of ${DIGEST_BYTES.sha256} bytes`);
    }
    const keys = usableSecrets(secrets);
    if (keys.length === 0) return NO_SECRET;

    let matched = false;
    if (signature) matched = matchesAny(keys.map((key) => hmac('sha256', key, call.rawBody)), [signature]);
    if (legacy !== undefined) {
      // Compared through hashes of both sides, so a mismatch does not reveal the secret's length either.
      for (const key of keys) if (safeEqual(legacy, key)) matched = true;
    }
    const sent = [legacy !== undefined && LEGACY_HEADER, signature && SIGNATURE_HEADER].filter(Boolean).join(' or ');
    return matched ? OK : invalid(`${sent} does not match the source's secret hash`);
  },

  parseBody: parseJsonBody,

  /**
   * v3 bodies are `{event, data: {id, …}}`. v4 bodies reportedly name the event `type`, so the key
   * uses whichever of the two the body carries. `verif-hash` is the secret itself and is never kept.
   */
  describe(_call, body) {
    const event = asRecord(body);
    const type = stringField(event?.event) ?? stringField(event?.type);
    return { eventType: type, dedupKey: compoundKey(type, idField(asRecord(event?.data)?.id)), sourceHeaders: {} };
  },

  /** Signed with `flutterwave-signature` only: a `verif-hash` sample would carry the secret in the clear. */
  signedSample(secret, nowMs) {
    const at = new Date(nowMs).toISOString();
    const body = JSON.stringify({
      event: 'charge.completed',
      data: {
        id: randomInt(1_000_000_000, 2_000_000_000),
        tx_ref: `tx-${randomUUID()}`,
        flw_ref: `FLW-MOCK-${randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase()}`,
        device_fingerprint: randomUUID().replaceAll('-', ''),
        amount: 7500,
        currency: 'NGN',
        charged_amount: 7500,
        app_fee: 105,
        merchant_fee: 0,
        processor_response: 'Approved by Financial Institution',
        auth_model: 'PIN',
        ip: '203.0.113.24',
        narration: 'CARD Transaction ',
        status: 'successful',
        payment_type: 'card',
        created_at: at,
        account_id: 17_321,
        customer: { id: randomInt(200_000_000, 300_000_000), name: 'Yemi Desola', phone_number: null, email: 'yemi@example.com', created_at: at },
        card: { first_6digits: '553188', last_4digits: '2950', issuer: 'MASTERCARD CREDIT', country: 'NG', type: 'MASTERCARD', expiry: '09/32' },
      },
      'event.type': 'CARD_TRANSACTION',
    });
    const signature = hmac('sha256', secret, body).toString('base64');
    return { body, contentType: JSON_CONTENT_TYPE, headers: { 'content-type': JSON_CONTENT_TYPE, [SIGNATURE_HEADER]: signature } };
  },
};
