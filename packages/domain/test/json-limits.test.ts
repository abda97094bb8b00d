import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, findUnstorableValue, jsonDepthExceeds, storableKey } from '../src/json-limits.ts';

/** The obvious recursive definition, for values shallow enough to recurse over. */
const depthOf = (v: unknown): number =>
  v === null || typeof v !== 'object' ? 0 : 1 + Math.max(0, ...(Array.isArray(v) ? v : Object.values(v)).map(depthOf));

describe('jsonDepthExceeds', () => {
  it('agrees with the recursive depth on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (value, max) => {
        expect(jsonDepthExceeds(value, max)).toBe(depthOf(value) > max);
      }),
      { numRuns: 300 },
    );
  });

  it('counts a container as one level and scalars as none', () => {
    expect(jsonDepthExceeds('x', 0)).toBe(false);
    expect(jsonDepthExceeds({}, 0)).toBe(true);
    expect(jsonDepthExceeds({}, 1)).toBe(false);
    expect(jsonDepthExceeds([[{ a: [1] }]], 3)).toBe(true);
    expect(jsonDepthExceeds([[{ a: [1] }]], 4)).toBe(false);
    expect(MAX_JSON_DEPTH).toBe(128);
  });

  it('answers without recursing for nesting far past what JSON.stringify survives', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000));
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(jsonDepthExceeds(deep)).toBe(true);
    expect(jsonDepthExceeds(deep, 200_000)).toBe(false);
  });
});

describe('findUnstorableValue', () => {
  it('finds NUL and unpaired surrogates in values and keys, and non-finite numbers, with their path', () => {
    expect(findUnstorableValue({ a: 'fine', b: [1, 'ok', { c: '🦄' }] })).toBeNull();
    expect(findUnstorableValue({ a: ['x', 'y\u0000'] })).toEqual({ path: '/a/1', problem: expect.stringContaining('NUL') });
    expect(findUnstorableValue({ a: { '\ud800': 1 } })).toEqual({ path: '/a', problem: expect.stringContaining('has a key') });
    expect(findUnstorableValue({ a: 'x\udfff' })?.path).toBe('/a');
    expect(findUnstorableValue({ n: Infinity })).toEqual({ path: '/n', problem: 'must be a finite number' });
    expect(findUnstorableValue([Number.NaN])?.path).toBe('/0');
    expect(findUnstorableValue('\u0000')?.path).toBe('');
  });

  it('skips the named top-level fields only', () => {
    expect(findUnstorableValue({ data: { a: '\u0000' } }, ['data'])).toBeNull();
    expect(findUnstorableValue({ data: 1, other: { data: '\u0000' } }, ['data'])?.path).toBe('/other/data');
  });

  it('agrees with a direct check on any JSON value', () => {
    const strings = (v: unknown): string[] =>
      typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, c]) => [k, ...strings(c)]) : [];
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }), (value) => {
        const expected = strings(value).some((s) => /\u0000/.test(s) || Buffer.from(s, 'utf8').toString('utf8') !== s);
        expect(findUnstorableValue(value) !== null).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('storableKey', () => {
  it('keeps short clean keys and digests the rest, the same way every time', () => {
    expect(storableKey('evt_123')).toBe('evt_123');
    const long = 'x'.repeat(201);
    expect(storableKey(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(storableKey(long)).toBe(storableKey(long));
    expect(storableKey('a\u0000b')).toMatch(/^sha256:/);
    expect(storableKey('a\u0000b')).not.toBe(storableKey('a\u0000c'));
    expect(storableKey('x'.repeat(200))).toBe('x'.repeat(200));
  });
});
