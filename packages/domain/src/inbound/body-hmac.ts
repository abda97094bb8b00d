import { NO_SECRET, OK, header, invalid, malformed, missing, usableSecrets } from './common.ts';
import { DIGEST_BYTES, decodeBase64, decodeHex, hmac, matchesAny, type HmacAlgorithm } from './hmac.ts';
import type { InboundCall, Verification } from './types.ts';

/** The most common scheme: one header holding an HMAC of the raw body, keyed by the secret's text. */
export interface BodyHmacScheme {
  header: string;
  algorithm: HmacAlgorithm;
  encoding: 'hex' | 'base64';
  /** Text before the signature, e.g. `sha256=`. */
  prefix?: string | undefined;
  /** Authorize.Net documents `sha512=` in lower case; accept any case rather than guess. */
  prefixIgnoresCase?: boolean;
}

function stripPrefix(value: string, scheme: BodyHmacScheme): string | null {
  const prefix = scheme.prefix ?? '';
  const head = value.slice(0, prefix.length);
  const same = scheme.prefixIgnoresCase ? head.toLowerCase() === prefix.toLowerCase() : head === prefix;
  return same ? value.slice(prefix.length).trim() : null;
}

/** The signature bytes in the header, or null when it is not in the scheme's shape. */
export function decodeSignature(value: string, scheme: BodyHmacScheme): Buffer | null {
  const text = stripPrefix(value, scheme);
  if (text === null) return null;
  const bytes = DIGEST_BYTES[scheme.algorithm];
  return scheme.encoding === 'hex' ? decodeHex(text, bytes) : decodeBase64(text, bytes);
}

function describeFormat(scheme: BodyHmacScheme): string {
  const bytes = DIGEST_BYTES[scheme.algorithm];
  const body = scheme.encoding === 'hex' ? `${bytes * 2} hex digits` : `base64 of ${bytes} bytes`;
  return `${scheme.prefix ?? ''}<${body}>`;
}

export function verifyBodyHmac(call: InboundCall, secrets: readonly string[], scheme: BodyHmacScheme): Verification {
  const value = header(call, scheme.header);
  if (value === undefined) return missing(scheme.header);
  const given = decodeSignature(value, scheme);
  if (!given) return malformed(`${scheme.header} must be ${describeFormat(scheme)}`);
  const keys = usableSecrets(secrets);
  if (keys.length === 0) return NO_SECRET;
  const expected = keys.map((key) => hmac(scheme.algorithm, key, call.rawBody));
  return matchesAny(expected, [given]) ? OK : invalid(`${scheme.header} does not match the body under the source's secrets`);
}

/** The header value a provider would send for `body`, for the sample signers. */
export function signBody(secret: string, body: string, scheme: BodyHmacScheme): string {
  const digest = hmac(scheme.algorithm, secret, body);
  return (scheme.prefix ?? '') + digest.toString(scheme.encoding);
}
