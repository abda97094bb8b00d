import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

const API_KEY_PREFIX = 'hr_';

/** A new tenant API key: shown once, stored only as its hash. */
export function generateApiKey(): { key: string; hash: string; hint: string } {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key), hint: key.slice(0, API_KEY_PREFIX.length + 6) };
}

/** Keys carry 256 bits of entropy, so a fast unsalted hash is enough to make a stolen table useless. */
export function hashApiKey(key: string): string {
  // The one-shot form: every authenticated request hashes its key, and a Hash object costs 4× more.
  return hash('sha256', key, 'hex');
}

/** Constant-time string comparison that does not leak the length of `expected` either. */
export function safeEqual(given: string, expected: string): boolean {
  const a = hash('sha256', given, 'buffer');
  const b = hash('sha256', expected, 'buffer');
  return timingSafeEqual(a, b);
}
