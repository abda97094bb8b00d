import { createHmac, randomBytes } from 'node:crypto';

/** Standard Webhooks secrets are `whsec_` + base64 of 24–64 random bytes. */
export const SECRET_PREFIX = 'whsec_';
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** Returns why a tenant-supplied secret is unusable, or null when it is fine. */
export function secretProblem(secret: string): string | null {
  if (!secret.startsWith(SECRET_PREFIX)) return `must start with "${SECRET_PREFIX}"`;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) return 'must be "whsec_" followed by base64';
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    return `must encode between ${MIN_SECRET_BYTES} and ${MAX_SECRET_BYTES} bytes (got ${bytes})`;
  }
  return null;
}

export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

export interface SignInput {
  msgId: string;
  /** Unix seconds of this attempt. */
  timestamp: number;
  body: string;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, per the Standard Webhooks spec. */
export function sign(key: Buffer, { msgId, timestamp, body }: SignInput): string {
  const mac = createHmac('sha256', key).update(`${msgId}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * The `webhook-signature` value for one or more keys: one `v1,<mac>` per key, space-separated, as
 * the Standard Webhooks spec allows while a secret is rotated. A receiver accepts the message when
 * any signature matches a secret it knows.
 */
export function signatureHeader(keys: Buffer | readonly Buffer[], input: SignInput): string {
  const list = Buffer.isBuffer(keys) ? [keys] : keys;
  if (list.length === 0) throw new Error('signatureHeader needs at least one key');
  return list.map((key) => sign(key, input)).join(' ');
}

/** The three Standard Webhooks headers for one attempt, signed with each key given (newest first). */
export function webhookHeaders(keys: Buffer | readonly Buffer[], input: SignInput): Record<string, string> {
  return {
    'webhook-id': input.msgId,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': signatureHeader(keys, input),
  };
}
