/**
 * Inbound sources: providers (Stripe, GitHub, …) call Hookrelay, which verifies the call over the
 * exact raw bytes and turns it into an ordinary event. Everything here is pure: the HTTP edge
 * hands in the raw body and headers, these functions answer.
 */
export const PROVIDER_NAMES = [
  'stripe',
  'paystack',
  'flutterwave',
  'authorize_net',
  'github',
  'shopify',
  'slack',
  'standard_webhooks',
  'generic_hmac',
] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Signed timestamps older or newer than this are refused (replay defence). */
export const TIMESTAMP_TOLERANCE_MS = 5 * 60_000;

/** A source may hold this many secrets at once, so a provider's secret can be rotated without downtime. */
export const MAX_SOURCE_SECRETS = 2;

export interface InboundCall {
  rawBody: Buffer;
  /** Header names in lower case, as Node delivers them; repeated headers joined by ", ". */
  headers: Readonly<Record<string, string | undefined>>;
  /** Receive time, for timestamp tolerance checks. */
  nowMs: number;
}

/** Settings of the generic HMAC provider, for everything the named ones do not cover. */
export interface GenericHmacConfig {
  /** Header carrying the signature, e.g. `x-signature`. */
  header: string;
  algorithm: 'sha256' | 'sha512';
  encoding: 'hex' | 'base64';
  /** Text before the signature in the header, e.g. `sha256=`. */
  prefix?: string;
  /** Header carrying a unique delivery id, used for de-duplication. */
  idHeader?: string;
}

export type RejectReason = 'missing_signature' | 'malformed_signature' | 'invalid_signature' | 'stale_timestamp';

export type Verification = { ok: true } | { ok: false; reason: RejectReason; message: string };

/** What a verified call becomes. */
export interface InboundDescription {
  /** The provider's own event type, as the provider spells it (normalised later); null if none. */
  eventType: string | null;
  /** Stable id of this notification at the provider, for de-duplication; null if none exists. */
  dedupKey: string | null;
  /** The provider headers worth keeping with the event (never a signature). */
  sourceHeaders: Record<string, string>;
}

export interface SignedSample {
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

export interface ProviderAdapter {
  name: ProviderName;
  /** Checks the call's signature against every active secret, in constant time. */
  verify(call: InboundCall, secrets: readonly string[], config?: GenericHmacConfig): Verification;
  /** Parses the verified raw body into the event's `data`; throws on a malformed body. */
  parseBody(call: InboundCall): unknown;
  describe(call: InboundCall, body: unknown, config?: GenericHmacConfig): InboundDescription;
  /** A realistic sample call signed with `secret`, for testing a source end to end. */
  signedSample(secret: string, nowMs: number, config?: GenericHmacConfig): SignedSample;
}
