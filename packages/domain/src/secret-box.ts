import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for signing secrets: AES-256-GCM under a 32-byte key. A stored value is
 * self-describing, `enc:v1:<keyId>:<iv b64>:<tag b64>:<ciphertext b64>`, so the key that wrote
 * it is found among the current and old keys; a value without the `enc:` prefix was written
 * before encryption existed and reads as plain text.
 */
export const ENCRYPTED_PREFIX = 'enc:';
const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

/** Why a base64 string is not a usable key, or null when it is one. */
export function encryptionKeyProblem(base64: string): string | null {
  const trimmed = base64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) return 'must be base64';
  const bytes = Buffer.from(trimmed, 'base64').length;
  if (bytes !== KEY_BYTES) return `must be base64 of exactly ${KEY_BYTES} bytes (got ${bytes}); make one with \`openssl rand -base64 32\``;
  return null;
}

/** Decodes a base64 key; throws a SecretBoxError when it is not 32 bytes of base64. */
export function parseEncryptionKey(base64: string): Buffer {
  const problem = encryptionKeyProblem(base64);
  if (problem) throw new SecretBoxError(`encryption key ${problem}`);
  return Buffer.from(base64.trim(), 'base64');
}

/** A short, stable, non-reversible name for a key: the first 8 hex digits of a hash of it. */
export function encryptionKeyId(key: Buffer): string {
  return createHash('sha256').update('hookrelay-secret-box-key-id\0').update(key).digest('hex').slice(0, 8);
}

/** Whether a stored value is ciphertext (as opposed to a plain-text value from before encryption). */
export const isEncrypted = (stored: string): boolean => stored.startsWith(ENCRYPTED_PREFIX);

export interface SecretBoxKeys {
  /** Encrypts everything written from now on; also decrypts. */
  current: Buffer;
  /** Keys retired from encrypting that still decrypt what they wrote. */
  old?: readonly Buffer[];
}

export interface SecretBox {
  /** Id of the current key, as it appears in the values it writes. */
  readonly keyId: string;
  encrypt(plaintext: string): string;
  /** Plain text of a stored value; a value without the `enc:` prefix is returned as it is. */
  decrypt(stored: string): string;
  /** Whether a stored value is already ciphertext under the current key (nothing to re-encrypt). */
  isCurrent(stored: string): boolean;
}

export function createSecretBox({ current, old = [] }: SecretBoxKeys): SecretBox {
  for (const key of [current, ...old]) {
    if (key.length !== KEY_BYTES) throw new SecretBoxError(`encryption keys are ${KEY_BYTES} bytes (got ${key.length})`);
  }
  const keyId = encryptionKeyId(current);
  const keys = new Map<string, Buffer>();
  // The current key wins should an old key be the same key listed again.
  for (const key of [...old].reverse()) keys.set(encryptionKeyId(key), key);
  keys.set(keyId, current);
  const header = (id: string) => `${ENCRYPTED_PREFIX}${VERSION}:${id}`;

  return {
    keyId,
    encrypt(plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv, { authTagLength: TAG_BYTES });
      // The header is authenticated too: a value cannot be passed off as another key's or version's.
      cipher.setAAD(Buffer.from(header(keyId)));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [header(keyId), iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
    },
    decrypt(stored) {
      if (!isEncrypted(stored)) return stored;
      const parts = stored.split(':');
      if (parts.length !== 6 || parts[1] !== VERSION) {
        throw new SecretBoxError(`stored secret is not in the ${ENCRYPTED_PREFIX}${VERSION} format`);
      }
      const [, , id, ivB64, tagB64, ctB64] = parts as [string, string, string, string, string, string];
      const key = keys.get(id);
      if (!key) {
        throw new SecretBoxError(
          `stored secret was encrypted under key ${id}, which is neither HOOKRELAY_ENCRYPTION_KEY (${keyId}) ` +
            'nor one of HOOKRELAY_ENCRYPTION_OLD_KEYS',
        );
      }
      const iv = Buffer.from(ivB64, 'base64');
      const tag = Buffer.from(tagB64, 'base64');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretBoxError('stored secret is malformed');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(header(id)));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(ctB64, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretBoxError(`stored secret failed authentication under key ${id}: it was altered, or the key is wrong`);
      }
    },
    isCurrent(stored) {
      return stored.startsWith(`${header(keyId)}:`);
    },
  };
}

/**
 * The same box, remembering the plain text of the last `max` values it decrypted. A stored value
 * carries its own random IV, so a changed secret is a new value and is never answered from memory;
 * one that fails to decrypt is not remembered. The worker decrypts a subscription's secret for
 * every attempt, and AES-GCM set-up is a visible share of an attempt's CPU.
 */
export function rememberingDecryptions(box: SecretBox, max = 10_000): SecretBox {
  const plain = new Map<string, string>();
  return {
    ...box,
    decrypt(stored) {
      const known = plain.get(stored);
      if (known !== undefined) return known;
      const text = box.decrypt(stored);
      // Oldest first out: a Map iterates in insertion order.
      if (plain.size >= max) plain.delete(plain.keys().next().value!);
      plain.set(stored, text);
      return text;
    },
  };
}
