import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  SecretBoxError,
  createSecretBox,
  encryptionKeyId,
  encryptionKeyProblem,
  isEncrypted,
  parseEncryptionKey,
  rememberingDecryptions,
  type SecretBox,
} from '../src/secret-box.ts';

const key = () => randomBytes(32);
const secret = 'whsec_' + Buffer.alloc(32, 0x5a).toString('base64');

describe('secret box', () => {
  it('round-trips, in the self-describing enc:v1 format, without the plain text in it', () => {
    const k = key();
    const box = createSecretBox({ current: k });
    const stored = box.encrypt(secret);
    expect(stored).toMatch(/^enc:v1:[0-9a-f]{8}:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/=]+$/);
    expect(stored.split(':')[2]).toBe(encryptionKeyId(k));
    expect(box.keyId).toBe(encryptionKeyId(k));
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.slice(6));
    expect(isEncrypted(stored)).toBe(true);
    expect(box.decrypt(stored)).toBe(secret);
    expect(box.isCurrent(stored)).toBe(true);
    // Unicode and empty strings survive too.
    expect(box.decrypt(box.encrypt('crème brûlée ✓'))).toBe('crème brûlée ✓');
    expect(box.decrypt(box.encrypt(''))).toBe('');
  });

  it('uses a fresh IV each time: the same secret never encrypts to the same value', () => {
    const box = createSecretBox({ current: key() });
    const a = box.encrypt(secret);
    const b = box.encrypt(secret);
    expect(a).not.toBe(b);
    expect(a.split(':')[3]).not.toBe(b.split(':')[3]);
  });

  it('detects tampering with the ciphertext, the tag, the IV or the key id', () => {
    const oldKey = key();
    const box = createSecretBox({ current: key(), old: [oldKey] });
    const stored = box.encrypt(secret);
    const parts = stored.split(':');
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[0] = bytes[0]! ^ 0x01;
      return bytes.toString('base64');
    };
    for (const index of [3, 4, 5]) {
      const tampered = parts.map((p, i) => (i === index ? flip(p) : p)).join(':');
      expect(() => box.decrypt(tampered)).toThrow(SecretBoxError);
      expect(() => box.decrypt(tampered)).toThrow(/failed authentication/);
    }
    // Another configured key's id on this ciphertext: the header is authenticated, so it fails.
    const relabelled = [...parts.slice(0, 2), encryptionKeyId(oldKey), ...parts.slice(3)].join(':');
    expect(() => box.decrypt(relabelled)).toThrow(/failed authentication/);
    expect(box.decrypt(stored)).toBe(secret);
    expect(() => box.decrypt('enc:v1:abc')).toThrow(/format/);
    expect(() => box.decrypt('enc:v2:' + parts.slice(2).join(':'))).toThrow(/format/);
  });

  it('refuses a value written under a key it does not have, naming the key id', () => {
    const writer = createSecretBox({ current: key() });
    const reader = createSecretBox({ current: key() });
    const stored = writer.encrypt(secret);
    expect(() => reader.decrypt(stored)).toThrow(SecretBoxError);
    expect(() => reader.decrypt(stored)).toThrow(new RegExp(`key ${writer.keyId}.*HOOKRELAY_ENCRYPTION_OLD_KEYS`));
    expect(reader.isCurrent(stored)).toBe(false);
  });

  it('rotates: values under an old key still decrypt, new values use the current key', () => {
    const oldKey = key();
    const newKey = key();
    const before = createSecretBox({ current: oldKey });
    const storedOld = before.encrypt(secret);

    const after = createSecretBox({ current: newKey, old: [oldKey] });
    expect(after.decrypt(storedOld)).toBe(secret);
    expect(after.isCurrent(storedOld)).toBe(false);
    const storedNew = after.encrypt(secret);
    expect(storedNew.split(':')[2]).toBe(encryptionKeyId(newKey));
    expect(after.isCurrent(storedNew)).toBe(true);
    // The old key alone cannot read what the new key wrote.
    expect(() => before.decrypt(storedNew)).toThrow(SecretBoxError);
    // Once the old key is dropped, its values no longer decrypt.
    expect(() => createSecretBox({ current: newKey }).decrypt(storedOld)).toThrow(/not one of|neither/);
  });

  it('reads values from before encryption (no enc: prefix) as plain text', () => {
    const box = createSecretBox({ current: key() });
    expect(isEncrypted(secret)).toBe(false);
    expect(box.decrypt(secret)).toBe(secret);
    expect(box.isCurrent(secret)).toBe(false);
  });

  it('validates keys: base64 of exactly 32 bytes', () => {
    const good = randomBytes(32).toString('base64');
    expect(encryptionKeyProblem(good)).toBeNull();
    expect(parseEncryptionKey(good)).toHaveLength(32);
    expect(encryptionKeyProblem(randomBytes(16).toString('base64'))).toMatch(/exactly 32 bytes \(got 16\)/);
    expect(encryptionKeyProblem('not base64!')).toMatch(/base64/);
    expect(() => parseEncryptionKey('abc')).toThrow(SecretBoxError);
    expect(() => createSecretBox({ current: randomBytes(16) })).toThrow(/32 bytes/);
    expect(encryptionKeyId(Buffer.alloc(32, 1))).toBe(encryptionKeyId(Buffer.alloc(32, 1)));
    expect(encryptionKeyId(Buffer.alloc(32, 1))).not.toBe(encryptionKeyId(Buffer.alloc(32, 2)));
  });

  it('remembers decryptions, bounded, answering a new or altered value only by decrypting it', () => {
    const box = createSecretBox({ current: key() });
    let decrypted = 0;
    const counting: SecretBox = { ...box, decrypt: (stored) => (decrypted++, box.decrypt(stored)) };
    const remembering = rememberingDecryptions(counting, 2);
    const [a, b, c] = ['whsec_a', 'whsec_b', 'whsec_c'].map((s) => box.encrypt(s)) as [string, string, string];

    expect([remembering.decrypt(a), remembering.decrypt(a), remembering.decrypt(b)]).toEqual(['whsec_a', 'whsec_a', 'whsec_b']);
    expect(decrypted).toBe(2);
    // A rotated secret is a new stored value (fresh IV), so it is decrypted, never served from memory.
    expect(remembering.decrypt(box.encrypt('whsec_a'))).toBe('whsec_a');
    expect(decrypted).toBe(3);
    // Bounded: the oldest entry (a) made room, so it is decrypted again.
    remembering.decrypt(c);
    remembering.decrypt(a);
    expect(decrypted).toBe(5);
    // A value that fails is not remembered: it fails every time.
    const altered = a.slice(0, -4) + (a.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => remembering.decrypt(altered)).toThrow(SecretBoxError);
    expect(() => remembering.decrypt(altered)).toThrow(SecretBoxError);
    expect(remembering.keyId).toBe(box.keyId);
    expect(remembering.isCurrent(a)).toBe(true);
  });
});
