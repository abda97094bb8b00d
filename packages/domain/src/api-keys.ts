import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const API_KEY_PREFIX = 'hr_';

/** A new tenant API key: shown once, stored only as its hash. */
export function generateApiKey(): { key: string; hash: string; hint: string } {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key), hint: key.slice(0, API_KEY_PREFIX.length + 6) };
}

/** Keys carry 256 bits of entropy, so a fast unsalted hash is enough to make a stolen table useless. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Constant-time string comparison that does not leak the length of `expected` either. */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
