import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PROVIDER_NAMES,
  PROVIDERS,
  normalizeEventType,
  type GenericHmacConfig,
  type InboundCall,
  type ProviderName,
  type Verification,
} from '../../src/inbound/index.ts';
import { EVENT_TYPE_REGEX } from '../../src/event-types.ts';
import { NOW } from './helpers.ts';

/**
 * Whatever a caller sends to /in/:sourceId reaches verify() before anything else: no header or
 * body may make it throw (the route would answer 500), and every refusal says why.
 */
const REASONS = ['missing_signature', 'malformed_signature', 'invalid_signature', 'stale_timestamp'];
const RUNS = { numRuns: 100 };
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const genericConfig: fc.Arbitrary<GenericHmacConfig> = fc.record(
  {
    header: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
    algorithm: fc.constantFrom('sha256' as const, 'sha512' as const),
    encoding: fc.constantFrom('hex' as const, 'base64' as const),
    prefix: fc.string({ maxLength: 50 }),
    idHeader: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
  },
  { requiredKeys: ['header', 'algorithm', 'encoding'] },
);
const FIXED_CONFIG: GenericHmacConfig = { header: 'x-signature', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=', idHeader: 'x-id' };

/** Header values a hostile or broken sender might put anywhere. */
const headerValue = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('', ' ', ',', '=', 't=', 'v1,', 'v0=', 'sha256=', 't=1,v1=', 't=abc,v1=zz', 'v1,====', 'v1a,AAAA', '\u0000', '\ud800', '1e309', 'NaN', '-1', '99999999999999999999'),
  fc.stringMatching(/^(t=\d{0,12},)?(v[01]=[0-9a-f]{0,70},?){0,3}$/),
  fc.stringMatching(/^(v1,[A-Za-z0-9+/=]{0,50} ?){0,3}$/),
  fc.nat({ max: 2 ** 40 }).map(String),
);

const randomHeaders = (names: string[]) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 30 }).map((s) => s.toLowerCase())), fc.option(headerValue, { nil: undefined }), {
    maxKeys: 12,
  });

const body = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.constantFrom('', '{}', '[]', 'null', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}').map((s) => Buffer.from(s)),
);

const secrets = fc.array(fc.oneof(fc.constant(SECRET), fc.string({ maxLength: 80 }), fc.constantFrom('', 'whsec_', 'whsec_!!!!', 'whsec_AAAA')), {
  maxLength: 3,
});

function expectVerification(v: Verification): void {
  expect(typeof v).toBe('object');
  if (v.ok) {
    expect(v).toEqual({ ok: true });
    return;
  }
  expect(v.ok).toBe(false);
  expect(REASONS).toContain(v.reason);
  expect(typeof v.message).toBe('string');
  expect(v.message.length).toBeGreaterThan(0);
}

const configFor = (name: ProviderName) => (name === 'generic_hmac' ? FIXED_CONFIG : undefined);

/** The header names a provider actually reads, from a real signed sample. */
const sampleHeaderNames = (name: ProviderName): string[] => {
  const sample = PROVIDERS[name].signedSample(SECRET, NOW, configFor(name));
  return [...Object.keys(sample.headers).map((h) => h.toLowerCase()), 'content-type', 'svix-id', 'svix-timestamp', 'svix-signature', 'x-hub-signature'];
};

/** One character edit of a string: replaced, dropped, doubled or cut there. */
const mutate = (value: string) =>
  fc.tuple(fc.nat(), fc.constantFrom('replace', 'drop', 'cut', 'append', 'double', 'spaces'), fc.string({ minLength: 1, maxLength: 3 })).map(([at, how, junk]) => {
    const i = value.length === 0 ? 0 : at % value.length;
    switch (how) {
      case 'replace':
        return value.slice(0, i) + junk + value.slice(i + 1);
      case 'drop':
        return value.slice(0, i) + value.slice(i + 1);
      case 'cut':
        return value.slice(0, i);
      case 'append':
        return value + junk;
      case 'double':
        return `${value}, ${value}`;
      default:
        return ` ${value.replaceAll(',', ' , ')} `;
    }
  });

describe.each(PROVIDER_NAMES.map((name) => [name]))('%s verify() under fuzzing', (name) => {
  const adapter = PROVIDERS[name];

  it('never throws on random headers, bodies and secrets, and always answers a Verification', () => {
    const names = sampleHeaderNames(name);
    fc.assert(
      fc.property(randomHeaders(names), body, secrets, fc.integer({ min: 0, max: 2 ** 42 }), (headers, rawBody, secretList, nowMs) => {
        const call: InboundCall = { rawBody, headers, nowMs };
        expectVerification(adapter.verify(call, secretList, configFor(name)));
      }),
      RUNS,
    );
  });

  it('never throws on a real signed call with one header or the body edited, and accepts it unedited', () => {
    const sample = adapter.signedSample(SECRET, NOW, configFor(name));
    const headerNames = Object.keys(sample.headers);
    const edit = fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.constantFrom(...headerNames).chain((h) => mutate(sample.headers[h]!).map((value) => ({ kind: 'header' as const, h, value }))),
      fc.constantFrom(...headerNames).map((h) => ({ kind: 'drop' as const, h })),
      mutate(sample.body).map((value) => ({ kind: 'body' as const, value })),
    );
    fc.assert(
      fc.property(edit, (e) => {
        const headers: Record<string, string | undefined> = { ...sample.headers, 'content-type': sample.contentType };
        let rawBody = Buffer.from(sample.body);
        if (e.kind === 'header') headers[e.h] = e.value;
        if (e.kind === 'drop') delete headers[e.h];
        if (e.kind === 'body') rawBody = Buffer.from(e.value);
        const verification = adapter.verify({ rawBody, headers, nowMs: NOW }, [SECRET], configFor(name));
        expectVerification(verification);
        if (e.kind === 'none') expect(verification).toEqual({ ok: true });
      }),
      RUNS,
    );
  });

  it('describes any body it can parse without throwing, with a usable event type', () => {
    const names = sampleHeaderNames(name);
    fc.assert(
      fc.property(randomHeaders(names), body, fc.option(fc.string({ maxLength: 120 }), { nil: null }), (headers, rawBody, prefix) => {
        const call: InboundCall = { rawBody, headers, nowMs: NOW };
        let data: unknown;
        try {
          data = adapter.parseBody(call);
        } catch {
          return; // a refused body is answered 400
        }
        const description = adapter.describe(call, data, configFor(name));
        expect(description.eventType === null || typeof description.eventType === 'string').toBe(true);
        expect(description.dedupKey === null || typeof description.dedupKey === 'string').toBe(true);
        for (const value of Object.values(description.sourceHeaders)) expect(typeof value).toBe('string');
        expect(normalizeEventType(description.eventType, prefix)).toMatch(EVENT_TYPE_REGEX);
      }),
      RUNS,
    );
  });
});

describe('generic_hmac verify() with random configurations', () => {
  it('never throws, whatever the configuration, headers and body', () => {
    fc.assert(
      fc.property(genericConfig, body, secrets, fc.dictionary(fc.string({ maxLength: 20 }), headerValue, { maxKeys: 6 }), (config, rawBody, secretList, extra) => {
        const headers = { ...extra, [config.header]: extra[config.header] ?? 'sha256=00' };
        expectVerification(PROVIDERS.generic_hmac.verify({ rawBody, headers, nowMs: NOW }, secretList, config));
      }),
      RUNS,
    );
  });
});

describe('header names that are also Object.prototype members', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('treats a generic_hmac header named %s as missing when absent', (name) => {
    const result = PROVIDERS.generic_hmac.verify(
      { rawBody: Buffer.from('{}'), headers: {}, nowMs: Date.now() },
      ['secret'],
      { header: name, algorithm: 'sha256', encoding: 'hex' },
    );
    expect(result).toMatchObject({ ok: false, reason: 'missing_signature' });
  });
});
