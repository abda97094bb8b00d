import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { SECRET_PREFIX, generateSecret, secretKey, secretProblem, sign, signatureHeader, webhookHeaders } from '../src/signing.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const secretOfBytes = (n: number) => SECRET_PREFIX + Buffer.alloc(n, 0xab).toString('base64');

describe('webhookHeaders', () => {
  const secret = generateSecret();
  const body = JSON.stringify({ type: 'order.created', data: { id: 'ord_1', total: 4200, note: 'crème brûlée ✓' } });

  function signed(overrides: Partial<{ msgId: string; timestamp: number; body: string }> = {}) {
    const input = { msgId: 'msg_2aXzQ1', timestamp: nowSeconds(), body, ...overrides };
    return { input, headers: webhookHeaders(secretKey(secret), input) };
  }

  it('emits the three Standard Webhooks headers', () => {
    const { input, headers } = signed();
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(headers['webhook-id']).toBe(input.msgId);
    expect(headers['webhook-timestamp']).toBe(String(input.timestamp));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('verifies with the standardwebhooks reference library', () => {
    const { input, headers } = signed();
    expect(new Webhook(secret).verify(input.body, headers)).toEqual(JSON.parse(body));
  });

  it('verifies when the secret is handed to the library without its whsec_ prefix', () => {
    const { input, headers } = signed();
    expect(() => new Webhook(secret.slice(SECRET_PREFIX.length)).verify(input.body, headers)).not.toThrow();
  });

  it('fails to verify when the body changes', () => {
    const { headers } = signed();
    const tampered = body.replace('4200', '4201');
    expect(tampered).not.toBe(body);
    expect(() => new Webhook(secret).verify(tampered, headers)).toThrow(/No matching signature/);
  });

  it('fails to verify when the id changes', () => {
    const { headers } = signed();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_other' })).toThrow(
      /No matching signature/,
    );
  });

  it('fails to verify when the timestamp changes, even within the tolerance window', () => {
    const { input, headers } = signed();
    const shifted = { ...headers, 'webhook-timestamp': String(input.timestamp - 1) };
    expect(() => new Webhook(secret).verify(body, shifted)).toThrow(/No matching signature/);
  });

  it('fails to verify with a different secret', () => {
    const { headers } = signed();
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow(/No matching signature/);
  });
});

describe('sign', () => {
  // Published Standard Webhooks / Svix test vector (used by the reference libraries' own tests).
  // standardwebhooks on npm ships only dist/, without its tests, so the vector is written out here.
  const vector = {
    secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  };

  it('reproduces the Standard Webhooks spec test vector', () => {
    const { secret, signature, ...input } = vector;
    expect(sign(secretKey(secret), input)).toBe(signature);
  });

  it('agrees with the reference library and with an independent node:crypto HMAC', () => {
    const { secret, signature, ...input } = vector;
    const library = new Webhook(secret).sign(input.msgId, new Date(input.timestamp * 1000), input.body);
    const independent =
      'v1,' +
      createHmac('sha256', Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'))
        .update(`${input.msgId}.${input.timestamp}.${input.body}`, 'utf8')
        .digest('base64');
    expect(library).toBe(signature);
    expect(independent).toBe(signature);
  });

  it('signs the UTF-8 bytes of non-ASCII bodies the same way the library does', () => {
    const secret = generateSecret();
    const input = { msgId: 'msg_1', timestamp: 1700000000, body: '{"name":"Zoë 😀"}' };
    expect(sign(secretKey(secret), input)).toBe(new Webhook(secret).sign(input.msgId, new Date(input.timestamp * 1000), input.body));
  });

  it('accepts the vector secret as valid', () => {
    expect(secretProblem(vector.secret)).toBeNull();
  });
});

describe('generateSecret', () => {
  it('is whsec_ followed by the base64 of 32 bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
    expect(bytes).toHaveLength(32);
    expect(bytes.toString('base64')).toBe(secret.slice('whsec_'.length));
    expect(secretKey(secret).equals(bytes)).toBe(true);
    expect(secretProblem(secret)).toBeNull();
  });

  it('is different every time', () => {
    const secrets = new Set(Array.from({ length: 200 }, () => generateSecret()));
    expect(secrets.size).toBe(200);
  });
});

describe('secretProblem', () => {
  it.each([24, 25, 32, 48, 63, 64])('accepts a %i-byte secret', (n) => {
    expect(secretProblem(secretOfBytes(n))).toBeNull();
  });

  it.each([1, 16, 23])('rejects a %i-byte secret as too short', (n) => {
    expect(secretProblem(secretOfBytes(n))).toMatch(/between 24 and 64 bytes/);
  });

  it.each([65, 128])('rejects a %i-byte secret as too long', (n) => {
    expect(secretProblem(secretOfBytes(n))).toMatch(/between 24 and 64 bytes/);
  });

  it.each([
    ['no prefix', Buffer.alloc(32, 1).toString('base64')],
    ['an upper-case prefix', 'WHSEC_' + Buffer.alloc(32, 1).toString('base64')],
    ['a different prefix', 'whsk_' + Buffer.alloc(32, 1).toString('base64')],
    ['an empty string', ''],
  ])('rejects %s', (_label, secret) => {
    expect(secretProblem(secret)).toMatch(/must start with "whsec_"/);
  });

  it.each([
    ['nothing after the prefix', 'whsec_'],
    ['characters outside base64', 'whsec_' + '!'.repeat(44)],
    ['base64url characters', 'whsec_' + Buffer.alloc(33, 0xfb).toString('base64url')],
    ['a length that is not a multiple of 4', 'whsec_' + Buffer.alloc(32, 1).toString('base64').slice(0, -1)],
    ['padding in the middle', 'whsec_AAAA=AAA' + 'A'.repeat(32)],
    ['whitespace', 'whsec_ ' + Buffer.alloc(32, 1).toString('base64')],
  ])('rejects %s as bad base64', (_label, secret) => {
    expect(secretProblem(secret)).toMatch(/followed by base64/);
  });
});

describe('signatureHeader (secret rotation)', () => {
  const input = { msgId: 'msg_rotate', timestamp: Math.floor(Date.now() / 1000), body: '{"type":"x.y","data":{}}' };
  const fresh = generateSecret();
  const previous = generateSecret();

  it('signs with every key, newest first, space-separated; either secret verifies', () => {
    const header = signatureHeader([secretKey(fresh), secretKey(previous)], input);
    expect(header).toBe(`${sign(secretKey(fresh), input)} ${sign(secretKey(previous), input)}`);
    const headers = webhookHeaders([secretKey(fresh), secretKey(previous)], input);
    expect(headers['webhook-signature']).toBe(header);
    expect(new Webhook(fresh).verify(input.body, headers)).toEqual(JSON.parse(input.body));
    expect(new Webhook(previous).verify(input.body, headers)).toEqual(JSON.parse(input.body));
    expect(() => new Webhook(generateSecret()).verify(input.body, headers)).toThrow();
  });

  it('with one key is the single signature, and refuses no key at all', () => {
    expect(signatureHeader([secretKey(fresh)], input)).toBe(sign(secretKey(fresh), input));
    expect(signatureHeader(secretKey(fresh), input)).toBe(sign(secretKey(fresh), input));
    expect(() => signatureHeader([], input)).toThrow(/at least one key/);
  });
});
