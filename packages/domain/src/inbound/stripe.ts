import { randomUUID } from 'node:crypto';
import {
  NO_SECRET,
  OK,
  asRecord,
  checkTimestamp,
  header,
  invalid,
  malformed,
  missing,
  parseJsonBody,
  parseUnixSeconds,
  stringField,
  unixSeconds,
  usableSecrets,
} from './common.ts';
import { DIGEST_BYTES, decodeHex, hmac, matchesAny } from './hmac.ts';
import type { ProviderAdapter } from './types.ts';

const SIGNATURE_HEADER = 'stripe-signature';

interface StripeHeader {
  /** The timestamp exactly as sent: it is signed as text, so it is never re-formatted. */
  timestamp: string;
  seconds: number;
  signatures: Buffer[];
}

/**
 * `t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`. While a secret rolls, Stripe sends one `v1` per
 * secret. `v0` is a fake signature on test events, and any scheme but `v1` is ignored so that an
 * attacker cannot downgrade the check to a weaker scheme.
 */
function parseHeader(value: string): StripeHeader | null {
  let timestamp: string | null = null;
  const signatures: Buffer[] = [];
  for (const item of value.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const key = item.slice(0, eq).trim();
    const val = item.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== null) return null;
      timestamp = val;
    } else if (key === 'v1') {
      const bytes = decodeHex(val, DIGEST_BYTES.sha256);
      if (bytes) signatures.push(bytes);
    }
  }
  const seconds = timestamp === null ? null : parseUnixSeconds(timestamp);
  if (timestamp === null || seconds === null || signatures.length === 0) return null;
  return { timestamp, seconds, signatures };
}

/**
 * The signing secret `whsec_…` is the HMAC key as its UTF-8 text. Standard Webhooks secrets look
 * the same but are base64-decoded, so the two providers deliberately share no key helper.
 */
function signature(secret: string, timestamp: string, rawBody: Buffer | string): Buffer {
  return hmac('sha256', secret, `${timestamp}.`, rawBody);
}

export const stripeProvider: ProviderAdapter = {
  name: 'stripe',

  verify(call, secrets) {
    const value = header(call, SIGNATURE_HEADER);
    if (value === undefined) return missing(SIGNATURE_HEADER);
    const parsed = parseHeader(value);
    if (!parsed) return malformed(`${SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<64 hex digits>`);
    const keys = usableSecrets(secrets);
    if (keys.length === 0) return NO_SECRET;
    const expected = keys.map((s) => signature(s, parsed.timestamp, call.rawBody));
    if (!matchesAny(expected, parsed.signatures)) {
      return invalid(`no v1 signature in ${SIGNATURE_HEADER} matches the body under the source's secrets`);
    }
    // Checked after the signature, so a stale verdict always concerns a genuine (replayed) call.
    return checkTimestamp(parsed.seconds, call.nowMs);
  },

  parseBody: parseJsonBody,

  describe(_call, body) {
    const event = asRecord(body);
    return { eventType: stringField(event?.type), dedupKey: stringField(event?.id), sourceHeaders: {} };
  },

  signedSample(secret, nowMs) {
    const created = unixSeconds(nowMs);
    const token = () => randomUUID().replaceAll('-', '').slice(0, 24);
    const paymentIntent = `pi_${token()}`;
    const body = JSON.stringify({
      id: `evt_${token()}`,
      object: 'event',
      api_version: '2025-08-27.basil',
      created,
      type: 'payment_intent.succeeded',
      livemode: false,
      pending_webhooks: 1,
      request: { id: `req_${token().slice(0, 14)}`, idempotency_key: randomUUID() },
      data: {
        object: {
          id: paymentIntent,
          object: 'payment_intent',
          amount: 2000,
          amount_received: 2000,
          currency: 'usd',
          status: 'succeeded',
          customer: `cus_${token().slice(0, 14)}`,
          latest_charge: `ch_${token()}`,
          payment_method_types: ['card'],
          created,
          livemode: false,
          metadata: { order_id: `ord_${token().slice(0, 8)}` },
        },
      },
    });
    const timestamp = String(created);
    const v1 = signature(secret, timestamp, body).toString('hex');
    const contentType = 'application/json; charset=utf-8';
    return {
      body,
      contentType,
      headers: { 'content-type': contentType, [SIGNATURE_HEADER]: `t=${timestamp},v1=${v1}` },
    };
  },
};
