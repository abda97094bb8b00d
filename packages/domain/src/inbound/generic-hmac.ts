import { randomUUID } from 'node:crypto';
import { JSON_CONTENT_TYPE, asRecord, header, idField, invalid, parseJsonBody, pickHeaders, stringField } from './common.ts';
import { signBody, verifyBodyHmac, type BodyHmacScheme } from './body-hmac.ts';
import type { GenericHmacConfig, ProviderAdapter } from './types.ts';

const ALGORITHMS = new Set(['sha256', 'sha512']);
const ENCODINGS = new Set(['hex', 'base64']);

/**
 * The config comes from storage, so it is checked here as well as at the API. Node hands header
 * names over in lower case, while the configured name may be in any case.
 */
function schemeOf(config: GenericHmacConfig | undefined): BodyHmacScheme | null {
  if (!config || typeof config.header !== 'string' || config.header.length === 0) return null;
  if (!ALGORITHMS.has(config.algorithm) || !ENCODINGS.has(config.encoding)) return null;
  return { header: config.header.toLowerCase(), algorithm: config.algorithm, encoding: config.encoding, prefix: config.prefix || undefined };
}

export const genericHmacProvider: ProviderAdapter = {
  name: 'generic_hmac',

  /** An HMAC of the raw body keyed by the secret's text, in the configured header. Hex compares case-blind. */
  verify(call, secrets, config) {
    const scheme = schemeOf(config);
    // Fails closed: a source without a usable config can never accept a call.
    if (!scheme) return invalid('the source has no usable generic HMAC configuration');
    return verifyBodyHmac(call, secrets, scheme);
  },

  parseBody: parseJsonBody,

  /**
   * With an `idHeader`, only that header identifies a delivery: falling back to the body would mix
   * two id spaces in one source. Without one, the body's `id` is the best guess.
   */
  describe(call, body, config) {
    const record = asRecord(body);
    const idHeader = config?.idHeader?.toLowerCase();
    const eventType = stringField(record?.type) ?? stringField(record?.event) ?? stringField(record?.eventType);
    const signatureHeader = config?.header?.toLowerCase();
    const kept = idHeader && idHeader !== signatureHeader ? pickHeaders(call, [idHeader]) : {};
    const dedupKey = idHeader ? (header(call, idHeader) ?? null) : idField(record?.id);
    return { eventType, dedupKey, sourceHeaders: kept };
  },

  signedSample(secret, nowMs, config) {
    const scheme = schemeOf(config);
    if (!scheme) throw new Error('the generic HMAC provider needs a config with header, algorithm and encoding');
    const id = `evt_${randomUUID()}`;
    const body = JSON.stringify({
      id,
      type: 'order.created',
      created_at: new Date(nowMs).toISOString(),
      data: { order_id: `ord_${randomUUID().replaceAll('-', '').slice(0, 12)}`, total: 4200, currency: 'EUR' },
    });
    const headers: Record<string, string> = { 'content-type': JSON_CONTENT_TYPE, [scheme.header]: signBody(secret, body, scheme) };
    const idHeader = config?.idHeader?.toLowerCase();
    if (idHeader && idHeader !== scheme.header) headers[idHeader] = id;
    return { body, contentType: JSON_CONTENT_TYPE, headers };
  },
};
