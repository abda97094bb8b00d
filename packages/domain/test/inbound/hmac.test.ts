import { describe, expect, it } from 'vitest';
import { checkTimestamp, header, parseJsonBody, parseUnixSeconds, usableSecrets } from '../../src/inbound/common.ts';
import { decodeBase64, decodeHex, equalBytes, hmac, matchesAny } from '../../src/inbound/hmac.ts';
import { TIMESTAMP_TOLERANCE_MS } from '../../src/inbound/types.ts';
import { NOW, NOW_SECONDS, callOf, hmacOf } from './helpers.ts';

describe('equalBytes', () => {
  it('is true only for equal, non-empty buffers', () => {
    expect(equalBytes(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(equalBytes(Buffer.from('abc'), Buffer.from('abd'))).toBe(false);
    expect(equalBytes(Buffer.alloc(0), Buffer.alloc(0))).toBe(false);
  });

  it('answers false instead of throwing on a length mismatch', () => {
    expect(() => equalBytes(Buffer.from('abc'), Buffer.from('abcd'))).not.toThrow();
    expect(equalBytes(Buffer.from('abc'), Buffer.from('abcd'))).toBe(false);
    expect(equalBytes(Buffer.from('abcd'), Buffer.from('abc'))).toBe(false);
  });

  it('answers false instead of throwing on input that is not bytes', () => {
    const bad = [undefined, null, 'abc', 42, {}, [1, 2, 3]] as unknown as Uint8Array[];
    for (const value of bad) {
      expect(equalBytes(value, Buffer.from('abc'))).toBe(false);
      expect(equalBytes(Buffer.from('abc'), value)).toBe(false);
    }
  });

  it('accepts plain Uint8Arrays as well as Buffers', () => {
    expect(equalBytes(new Uint8Array([1, 2, 3]), Buffer.from([1, 2, 3]))).toBe(true);
  });
});

describe('matchesAny', () => {
  const a = Buffer.from('aaaa');
  const b = Buffer.from('bbbb');
  it('finds a match in any pair', () => {
    expect(matchesAny([a, b], [b])).toBe(true);
    expect(matchesAny([a], [b, a])).toBe(true);
    expect(matchesAny([a], [b])).toBe(false);
    expect(matchesAny([], [a])).toBe(false);
    expect(matchesAny([a], [])).toBe(false);
  });
});

describe('hmac', () => {
  it('hashes parts in order, Buffers as their bytes', () => {
    expect(hmac('sha256', 'k', 'a.', Buffer.from('b')).toString('hex')).toBe(hmacOf('sha256', 'k', 'a.b', 'hex'));
  });

  it('hashes bytes that are not valid UTF-8 as they are', () => {
    const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const lossy = Buffer.from(raw.toString('utf8'), 'utf8');
    expect(hmac('sha256', 'k', raw).equals(hmac('sha256', 'k', lossy))).toBe(false);
  });
});

describe('decoders', () => {
  it('decodes hex of the exact length, in either case', () => {
    expect(decodeHex('0aFF', 2)).toEqual(Buffer.from([0x0a, 0xff]));
    expect(decodeHex('0aF', 2)).toBeNull();
    expect(decodeHex('0aFF00', 2)).toBeNull();
    expect(decodeHex('0aFG', 2)).toBeNull();
    expect(decodeHex('', 0)).toBeNull();
  });

  it('decodes padded base64 of the exact length and nothing looser', () => {
    const bytes = Buffer.alloc(32, 0xa5);
    const text = bytes.toString('base64');
    expect(decodeBase64(text, 32)).toEqual(bytes);
    expect(decodeBase64(text, 31)).toBeNull();
    expect(decodeBase64(text.replace(/=+$/, ''), 32)).toBeNull();
    expect(decodeBase64(`${text.slice(0, 10)}!${text.slice(11)}`, 32)).toBeNull();
    expect(decodeBase64(bytes.toString('base64url'), 32)).toBeNull();
  });
});

describe('call helpers', () => {
  it('reads trimmed header values and treats blank as absent', () => {
    const call = callOf('{}', { 'x-a': '  v  ', 'x-b': '   ', 'x-c': undefined });
    expect(header(call, 'x-a')).toBe('v');
    expect(header(call, 'X-A')).toBe('v');
    expect(header(call, 'x-b')).toBeUndefined();
    expect(header(call, 'x-c')).toBeUndefined();
  });

  it('drops empty secrets', () => {
    expect(usableSecrets(['', 'a', ''])).toEqual(['a']);
  });

  it('reads unix seconds as digits only', () => {
    expect(parseUnixSeconds(String(NOW_SECONDS))).toBe(NOW_SECONDS);
    for (const bad of ['', '-1', '1.5', '1e9', ' 1', '0x10', '1'.repeat(13)]) expect(parseUnixSeconds(bad)).toBeNull();
  });

  it('checks the timestamp window in both directions, inclusive at the edges', () => {
    const edge = TIMESTAMP_TOLERANCE_MS / 1000;
    expect(checkTimestamp(NOW_SECONDS - edge, NOW)).toEqual({ ok: true });
    expect(checkTimestamp(NOW_SECONDS + edge, NOW)).toEqual({ ok: true });
    expect(checkTimestamp(NOW_SECONDS - edge - 1, NOW)).toMatchObject({ ok: false, reason: 'stale_timestamp', message: expect.stringContaining('past') });
    expect(checkTimestamp(NOW_SECONDS + edge + 1, NOW)).toMatchObject({ ok: false, reason: 'stale_timestamp', message: expect.stringContaining('future') });
  });

  it('parses JSON bodies and refuses empty, invalid and non-UTF-8 ones', () => {
    expect(parseJsonBody(callOf('{"a":[1,"é"]}', {}))).toEqual({ a: [1, 'é'] });
    expect(() => parseJsonBody(callOf('', {}))).toThrow(/empty/);
    expect(() => parseJsonBody(callOf('not json', {}))).toThrow();
    expect(() => parseJsonBody(callOf(Buffer.from([0x22, 0xff, 0x22]), {}))).toThrow();
  });
});
