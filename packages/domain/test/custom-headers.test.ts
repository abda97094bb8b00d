import { describe, expect, it } from 'vitest';
import { CUSTOM_HEADER_LIMITS, customHeadersProblem } from '../src/custom-headers.ts';

describe('customHeadersProblem', () => {
  it('accepts normal headers', () => {
    expect(customHeadersProblem({})).toBeNull();
    expect(
      customHeadersProblem({
        'X-Api-Key': 'abc123',
        Authorization: 'Bearer eyJhbGciOi.J9.xyz',
        'x-tenant': 'acme corp',
        'X-Empty': '',
        'X-Tab': 'a\tb',
        "X-Token!#$%&'*+.^_`|~": 'ok',
      }),
    ).toBeNull();
  });

  it.each(['content-type', 'Content-Length', 'user-agent', 'host', 'Content-Encoding', 'expect'])(
    'rejects the reserved header %s',
    (name) => {
      expect(customHeadersProblem({ [name]: 'x' })).toMatch(/set by Hookrelay/);
    },
  );

  it.each(['webhook-id', 'Webhook-Signature', 'WEBHOOK-TIMESTAMP', 'webhook-anything'])(
    'rejects the signature header %s',
    (name) => {
      expect(customHeadersProblem({ [name]: 'x' })).toMatch(/set by Hookrelay/);
    },
  );

  it.each(['connection', 'transfer-encoding', 'Upgrade', 'te', 'keep-alive', 'Proxy-Authorization', 'trailer'])(
    'rejects the hop-by-hop header %s',
    (name) => {
      expect(customHeadersProblem({ [name]: 'x' })).toMatch(/hop-by-hop/);
    },
  );

  it.each(['', 'X Space', 'X:Colon', 'X-Ünicode', 'X(paren)', 'X-New\nLine', 'X"quote"', 'X/slash'])(
    'rejects the invalid name %j',
    (name) => {
      expect(customHeadersProblem({ [name]: 'x' })).toMatch(/not a valid header name/);
    },
  );

  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CRLF injection', 'x\r\nX-Injected: 1'],
    ['NUL', 'a\0b'],
    ['DEL', 'a\x7fb'],
    ['a character outside Latin-1', 'snow ☃'],
  ])('rejects a value with %s', (_label, value) => {
    expect(customHeadersProblem({ 'X-Custom': value })).toMatch(/control characters/);
  });

  it('rejects a value that is not a string', () => {
    expect(customHeadersProblem({ 'X-Custom': 42 as unknown as string })).toMatch(/control characters/);
  });

  it('rejects names given twice with different case', () => {
    expect(customHeadersProblem({ 'X-Custom': 'a', 'x-custom': 'b' })).toMatch(/given twice/);
    expect(customHeadersProblem({ 'X-Custom': 'a', 'X-CUSTOM': 'b' })).toMatch(/given twice/);
  });

  it('limits the number of headers', () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));
    expect(CUSTOM_HEADER_LIMITS.count).toBe(20);
    expect(customHeadersProblem(many(20))).toBeNull();
    expect(customHeadersProblem(many(21))).toMatch(/at most 20 headers/);
  });

  it('limits the value length', () => {
    expect(customHeadersProblem({ 'X-Long': 'a'.repeat(CUSTOM_HEADER_LIMITS.valueLength) })).toBeNull();
    expect(customHeadersProblem({ 'X-Long': 'a'.repeat(CUSTOM_HEADER_LIMITS.valueLength + 1) })).toMatch(/longer than/);
  });
});
