import { createHmac, timingSafeEqual } from 'node:crypto';

export type HmacAlgorithm = 'sha256' | 'sha512';

export const DIGEST_BYTES: Readonly<Record<HmacAlgorithm, number>> = { sha256: 32, sha512: 64 };

/**
 * HMAC over the parts in order. Bodies go in as the Buffer received, never re-decoded: a body
 * that is not valid UTF-8 would change on a round trip through a string, and so would its MAC.
 */
export function hmac(algorithm: HmacAlgorithm, key: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * Constant-time equality of two byte buffers. `timingSafeEqual` throws on a length mismatch, and a
 * throw inside verification would turn a forged header into a 500, so a mismatch, an empty buffer
 * or anything that is not bytes answers false instead.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return false;
  if (a.byteLength === 0 || a.byteLength !== b.byteLength) return false;
  try {
    return timingSafeEqual(a, b);
  } catch {
    return false;
  }
}

/**
 * True when any given signature equals any expected one. Every pair is compared, with no early
 * exit, so the time taken does not tell which secret or which listed signature came close.
 */
export function matchesAny(expected: readonly Uint8Array[], given: readonly Uint8Array[]): boolean {
  let matched = false;
  for (const e of expected) {
    for (const g of given) {
      if (equalBytes(e, g)) matched = true;
    }
  }
  return matched;
}

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Hex of exactly `bytes` bytes, in either case; null otherwise. Decoding makes the compare case-blind. */
export function decodeHex(text: string, bytes: number): Buffer | null {
  if (text.length !== bytes * 2 || !HEX.test(text)) return null;
  return Buffer.from(text, 'hex');
}

/** Padded base64 of exactly `bytes` bytes; null otherwise. Node's own decoder skips junk silently. */
export function decodeBase64(text: string, bytes: number): Buffer | null {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return null;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === bytes ? decoded : null;
}
