import { randomUUID } from 'node:crypto';
import {
  JSON_CONTENT_TYPE,
  NO_SECRET,
  asRecord,
  checkTimestamp,
  header,
  invalid,
  malformed,
  missing,
  parseJsonBody,
  parseUnixSeconds,
  pickHeaders,
  stringField,
  unixSeconds,
  usableSecrets,
} from './common.ts';
import { DIGEST_BYTES, decodeBase64, hmac, matchesAny } from './hmac.ts';
import type { InboundCall, ProviderAdapter } from './types.ts';

/** Svix sends the same scheme under its own header names; senders use one family or the other. */
const FAMILIES = ['webhook', 'svix'] as const;
type Family = (typeof FAMILIES)[number];
const names = (family: Family) => ({ id: `${family}-id`, timestamp: `${family}-timestamp`, signature: `${family}-signature` });

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The key is the base64 after the optional `whsec_`, decoded. (Stripe's `whsec_…` is used as
 * text, which is why the two share no key helper.) A secret that is not base64 can match nothing.
 */
function secretKey(secret: string): Buffer | null {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded)) return null;
  const key = Buffer.from(encoded, 'base64');
  return key.length > 0 ? key : null;
}

function signature(key: Buffer, id: string, timestamp: string, rawBody: Buffer | string): Buffer {
  return hmac('sha256', key, `${id}.${timestamp}.`, rawBody);
}

/** The family whose headers the call carries, `webhook-` first, as the Svix library does. */
function familyOf(call: InboundCall): Family {
  for (const family of FAMILIES) {
    const n = names(family);
    if ([n.id, n.timestamp, n.signature].some((name) => header(call, name) !== undefined)) return family;
  }
  return 'webhook';
}

/**
 * `v1,<base64>` entries separated by spaces, one per secret while a secret rotates. Other versions
 * (`v1a` is ed25519) are skipped: only symmetric signatures are supported.
 */
function parseSignatures(value: string): Buffer[] {
  const out: Buffer[] = [];
  for (const entry of value.split(/\s+/)) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const bytes = decodeBase64(entry.slice(comma + 1), DIGEST_BYTES.sha256);
    if (bytes) out.push(bytes);
  }
  return out;
}

export const standardWebhooksProvider: ProviderAdapter = {
  name: 'standard_webhooks',

  verify(call, secrets) {
    const n = names(familyOf(call));
    const value = header(call, n.signature);
    if (value === undefined) return missing(n.signature);
    const id = header(call, n.id);
    if (id === undefined) return missing(n.id);
    const timestamp = header(call, n.timestamp);
    if (timestamp === undefined) return missing(n.timestamp);
    const seconds = parseUnixSeconds(timestamp);
    if (seconds === null) return malformed(`${n.timestamp} must be unix seconds`);
    const given = parseSignatures(value);
    if (given.length === 0) return malformed(`${n.signature} holds no v1,<base64 of 32 bytes> entry`);
    const keys = usableSecrets(secrets)
      .map(secretKey)
      .filter((key): key is Buffer => key !== null);
    if (keys.length === 0) return NO_SECRET;
    if (!matchesAny(keys.map((key) => signature(key, id, timestamp, call.rawBody)), given)) {
      return invalid(`no v1 signature in ${n.signature} matches the body under the source's secrets`);
    }
    // Checked after the signature, so a stale verdict always concerns a genuine (replayed) call.
    return checkTimestamp(seconds, call.nowMs);
  },

  parseBody: parseJsonBody,

  /** The message id stays the same across retries; the timestamp changes with each attempt. */
  describe(call, body) {
    const n = names(familyOf(call));
    return {
      eventType: stringField(asRecord(body)?.type),
      dedupKey: header(call, n.id) ?? null,
      sourceHeaders: pickHeaders(call, [n.id, n.timestamp]),
    };
  },

  signedSample(secret, nowMs) {
    const key = secretKey(secret);
    if (!key) throw new Error('a Standard Webhooks secret is base64, optionally prefixed with "whsec_"');
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    const timestamp = String(unixSeconds(nowMs));
    const body = JSON.stringify({
      type: 'invoice.paid',
      timestamp: new Date(nowMs).toISOString(),
      data: {
        id: `inv_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        customer_id: `cus_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        amount_due: 4900,
        amount_paid: 4900,
        currency: 'eur',
        status: 'paid',
      },
    });
    return {
      body,
      contentType: JSON_CONTENT_TYPE,
      headers: {
        'content-type': JSON_CONTENT_TYPE,
        'webhook-id': id,
        'webhook-timestamp': timestamp,
        'webhook-signature': `v1,${signature(key, id, timestamp, body).toString('base64')}`,
      },
    };
  },
};
