import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEVELOPMENT_ENCRYPTION_KEY, loadConfig } from '../src/index.ts';

const key = () => randomBytes(32).toString('base64');
const production = { NODE_ENV: 'production', ADMIN_TOKEN: 'a-production-admin-token' };

describe('HOOKRELAY_ENCRYPTION_KEY', () => {
  it('is required in production, and may not be the development key there', () => {
    expect(() => loadConfig(production)).toThrow(ConfigError);
    expect(() => loadConfig(production)).toThrow(/HOOKRELAY_ENCRYPTION_KEY is required when NODE_ENV=production/);
    expect(() => loadConfig({ ...production, HOOKRELAY_ENCRYPTION_KEY: DEVELOPMENT_ENCRYPTION_KEY })).toThrow(/development key/);
    const k = key();
    const config = loadConfig({ ...production, HOOKRELAY_ENCRYPTION_KEY: k });
    expect(config.encryptionKeys.current.equals(Buffer.from(k, 'base64'))).toBe(true);
    expect(config.encryptionKeys.old).toEqual([]);
    expect(config.encryptionKeyIsDevelopment).toBe(false);
  });

  it('falls back to the fixed development key outside production, and says so', () => {
    for (const NODE_ENV of ['development', 'test']) {
      const config = loadConfig({ NODE_ENV, HOOKRELAY_ENCRYPTION_KEY: '' });
      expect(config.encryptionKeyIsDevelopment).toBe(true);
      expect(config.encryptionKeys.current.toString('base64')).toBe(DEVELOPMENT_ENCRYPTION_KEY);
    }
  });

  it('must be base64 of 32 bytes, with a message naming the variable', () => {
    expect(() => loadConfig({ HOOKRELAY_ENCRYPTION_KEY: randomBytes(16).toString('base64') })).toThrow(
      /HOOKRELAY_ENCRYPTION_KEY must be base64 of exactly 32 bytes, got 16/,
    );
    expect(() => loadConfig({ HOOKRELAY_ENCRYPTION_KEY: 'not base64 at all!' })).toThrow(/HOOKRELAY_ENCRYPTION_KEY must be base64/);
  });

  it('reads HOOKRELAY_ENCRYPTION_OLD_KEYS as a comma-separated list, validating each', () => {
    const [a, b] = [key(), key()];
    const config = loadConfig({ HOOKRELAY_ENCRYPTION_KEY: key(), HOOKRELAY_ENCRYPTION_OLD_KEYS: ` ${a}, ${b} ,` });
    expect(config.encryptionKeys.old.map((k) => k.toString('base64'))).toEqual([a, b]);
    expect(() => loadConfig({ HOOKRELAY_ENCRYPTION_KEY: key(), HOOKRELAY_ENCRYPTION_OLD_KEYS: `${a},short` })).toThrow(
      /HOOKRELAY_ENCRYPTION_OLD_KEYS \(key 2\) must be base64/,
    );
  });
});
