import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, safeEqual } from '../src/api-keys.ts';

describe('generateApiKey', () => {
  it('returns a prefixed key, its hash and a short hint', () => {
    const { key, hash, hint } = generateApiKey();
    expect(key).toMatch(/^hr_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(3), 'base64url')).toHaveLength(32);
    expect(hash).toBe(hashApiKey(key));
    expect(hint).toBe(key.slice(0, 9));
    expect(key.startsWith(hint)).toBe(true);
    expect(hint.length).toBeLessThan(key.length / 2);
  });

  it('returns a different key every time', () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey());
    expect(new Set(keys.map((k) => k.key)).size).toBe(200);
    expect(new Set(keys.map((k) => k.hash)).size).toBe(200);
  });
});

describe('hashApiKey', () => {
  it('is the hex SHA-256 of the key', () => {
    expect(hashApiKey('hr_test')).toBe(createHash('sha256').update('hr_test').digest('hex'));
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is deterministic and does not contain the key', () => {
    const { key } = generateApiKey();
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).not.toContain(key.slice(3));
  });
});

describe('safeEqual', () => {
  it('is true for equal strings', () => {
    const { key } = generateApiKey();
    expect(safeEqual(key, key)).toBe(true);
    expect(safeEqual(key, String(key))).toBe(true);
    expect(safeEqual('', '')).toBe(true);
  });

  it('is false for different strings of the same length', () => {
    expect(safeEqual('hr_aaaa', 'hr_aaab')).toBe(false);
    expect(safeEqual('abc', 'ABC')).toBe(false);
  });

  it('is false for strings of different lengths, without throwing', () => {
    expect(safeEqual('short', 'much longer value')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'x')).toBe(false);
    expect(safeEqual('x', '')).toBe(false);
  });
});
