import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';

/**
 * Property tests with hostile input: whatever a client sends, the API answers below 500, refuses
 * with a JSON error that says why, writes nothing when it refuses, and never lets a body reach
 * Object.prototype. Bodies are built as raw JSON text, so they can hold what JSON.stringify
 * cannot make: 1e309, duplicate keys, own `__proto__` keys, escaped lone surrogates.
 */
const RUNS = 100;
const GITHUB_SECRET = 'hostile-input-github-secret';

// ---------------------------------------------------------------------------------------------
// Generators

/** Keys that have meaning to JavaScript objects, or to nobody. */
const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then', '', ' ', '\u0000', '$where', 'a.b', 'a/b'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const hostileText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      '\u0000',
      'a\u0000b',
      '\ud800',
      'x\udfffy',
      '\ufeff',
      '\u202egnp.exe',
      '🦄🦄🦄',
      'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
      'NaN',
      'Infinity',
      '-Infinity',
      '1e309',
      '-0',
      '0x10',
      '',
      ' ',
      'null',
      'a\r\nX-Injected: 1',
      '../../etc/passwd',
      "' or 1=1 --",
      '${jndi:ldap://x/a}',
      '<script>alert(1)</script>',
      '%00%0d%0a',
      'javascript:alert(1)',
      'http://169.254.169.254/latest/meta-data/',
      'https://[::1]:0/',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 40_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 200_000, max: 300_000 }).map((n) => '\u00e9'.repeat(n)) },
);

/** Text Postgres cannot store: NUL, or a UTF-16 surrogate without its pair, somewhere in a string. */
const nasty = fc
  .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff'), fc.string({ maxLength: 10 }))
  .map(([a, bad, b]) => JSON.stringify(a + bad + b));

/** Number tokens written as text: some overflow a double, some lose precision, some are not JSON. */
const numberToken = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom('1e309', '-1e309', '1e-400', '-0', '0.0000000000000000000001', '123456789012345678901234567890', '9007199254740993', '1E2', '2.5', '-1', '0'),
);

/** A JSON value as text. */
const json: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(hostileText.map((s) => JSON.stringify(s)), numberToken, fc.constantFrom('true', 'false', 'null')),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectText),
    fc.constantFrom(
      '{"__proto__":{"polluted":"yes","isAdmin":true}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
      '{"__proto__":{"__proto__":{"polluted":"yes"}}}',
      '[{"__proto__":[]}]',
      '{"a":1,"a":2}',
    ),
  ),
})).value;

/** Far deeper than anything real: arrays or objects nested thousands of levels. */
const deep = fc
  .tuple(fc.integer({ min: 50, max: 60_000 }), fc.constantFrom('array', 'object'))
  .map(([depth, kind]) => (kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

const value = fc.oneof({ weight: 6, arbitrary: json }, { weight: 1, arbitrary: deep });

/** Lone surrogates become U+FFFD: encodeURIComponent refuses them (JSON bodies carry them escaped). */
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
const encode = (s: string) => encodeURIComponent(wellFormed(s));

function objectText(entries: [string, string][]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/**
 * A body built from a valid one: some fields replaced by hostile values, hostile keys added;
 * or, now and then, any JSON value at all, or text that is not JSON.
 */
function bodyFrom(valid: Record<string, string>, fields: string[]): fc.Arbitrary<string> {
  // One field of an otherwise valid body made hostile: the way past validation to the database.
  const text = hostileText.map((t) => JSON.stringify(t));
  const unstorable = fc.oneof(nasty, nasty.map((t) => `{"k":${t}}`), nasty.map((t) => `{${t}:1}`), nasty.map((t) => `[${t}]`));
  const hostile = fc.oneof(
    { weight: 3, arbitrary: text },
    { weight: 4, arbitrary: unstorable },
    { weight: 2, arbitrary: fc.constantFrom('"Infinity"', '"-Infinity"', '"1e309"', '["Infinity"]', '1e309', '-1e309', '"NaN"', '" 5"', '"0x10"') },
    { weight: 1, arbitrary: fc.oneof(text.map((t) => `{"k":${t}}`), text.map((t) => `{${t}:1}`), text.map((t) => `[${t}]`)) },
    { weight: 2, arbitrary: value },
  );
  const one = fc
    .tuple(fc.constantFrom(...fields), hostile)
    .map(([field, hostile]) => objectText(Object.entries({ ...valid, [field]: hostile })));
  const many = fc
    .tuple(fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 3 }), fc.array(fc.tuple(hostileKey, value), { maxLength: 2 }), fc.boolean())
    .map(([replaced, extra, keepValid]) => {
      const entries = Object.entries({ ...(keepValid ? valid : {}), ...replaced });
      return objectText([...entries, ...extra]);
    });
  return fc.oneof(
    { weight: 6, arbitrary: one },
    { weight: 4, arbitrary: many },
    { weight: 2, arbitrary: value },
    { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '{"url":', '{"a":1}}', '[1,]', '{"a":01}', '{"a":"\\x41"}', 'nul', '\u0000', '{"a":NaN}', '{"a":Infinity}', "{'a':1}") },
  );
}

/** A query string of known and hostile parameters, some repeated, some badly escaped. */
const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('limit', 'cursor', 'type', 'since', 'until', 'status', 'subscriptionId', 'eventId', 'statusCode', 'limit[]', '__proto__', '__proto__[polluted]', 'constructor[prototype][polluted]', 'toString'),
        hostileKey,
      ),
      fc.oneof(
        hostileText.filter((s) => s.length < 5_000),
        numberToken,
        fc.constantFrom('0', '-1', '101', '1.5', '1e3', '', 'true', '[]', '2026-01-01T00:00:00Z', 'not-a-date', '00000000-0000-0000-0000-000000000000'),
      ),
      fc.constantFrom('encoded', 'raw'),
    ),
    { maxLength: 5 },
  )
  .map((params) =>
    params
      .map(([k, v, how]) => (how === 'encoded' ? `${encode(k)}=${encode(v)}` : `${wellFormed(k).replace(/[#\s&]/g, '')}=${wellFormed(v).replace(/[#\s&]/g, '')}`))
      .join('&'),
  );

// ---------------------------------------------------------------------------------------------

describe('hostile input', () => {
  let stack: Stack;
  let tenant: Tenant;
  let subscriptionId: string;
  let sourceId: string;
  /** generic_hmac without an id header: the de-duplication key comes from the body's `id`. */
  let genericSourceId: string;
  const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();

  beforeAll(async () => {
    // Rate limits off: this file is about what requests hold, not how many there are.
    stack = await Stack.start({ workers: 0, env: { HOOKRELAY_API_RATE_LIMIT: '0', HOOKRELAY_AUTH_FAILURE_LIMIT: '0' } });
    tenant = await stack.createTenant('hostile');
    const sub = await tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/in', eventTypes: ['order.*'] });
    expect(sub.status, sub.text).toBe(201);
    subscriptionId = sub.body.id;
    const source = await tenant.client.post('/v1/sources', { provider: 'github', name: 'gh', secret: GITHUB_SECRET });
    expect(source.status, source.text).toBe(201);
    sourceId = source.body.id;
    const generic = await tenant.client.post('/v1/sources', {
      provider: 'generic_hmac',
      name: 'generic',
      secret: GITHUB_SECRET,
      config: { header: 'x-signature', algorithm: 'sha256', encoding: 'hex' },
    });
    expect(generic.status, generic.text).toBe(201);
    genericSourceId = generic.body.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  interface Answer {
    status: number;
    body: any;
    text: string;
    contentType: string | null;
  }

  async function send(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(stack.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${tenant.apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : new Uint8Array(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, contentType: res.headers.get('content-type') };
  }

  /** Every row count, and a digest of the rows a refused request could have touched. */
  const snapshot = async () =>
    (
      await stack.db.sql`select
        (select count(*) from subscriptions)::int as subscriptions,
        (select count(*) from events)::int as events,
        (select count(*) from deliveries)::int as deliveries,
        (select count(*) from sources)::int as sources,
        (select count(*) from idempotency_keys)::int as idempotency_keys,
        (select count(*) from tenants)::int as tenants,
        (select count(*) from api_keys)::int as api_keys,
        (select md5(coalesce(string_agg(s::text, ',' order by s.id), '')) from subscriptions s) as subscription_rows,
        (select md5(coalesce(string_agg(t.settings::text, ',' order by t.id), '')) from tenants t) as settings`
    )[0]!;

  function expectSane(res: Answer, what: string): void {
    const context = `${what} -> ${res.status} ${res.text.slice(0, 300)}`;
    expect(res.status, context).toBeLessThan(500);
    if (res.status >= 400) {
      expect(res.contentType, context).toMatch(/^application\/json/);
      expect(res.body, context).toMatchObject({ statusCode: res.status, error: expect.any(String), message: expect.any(String) });
      expect(res.body.message.length, context).toBeGreaterThan(0);
    }
    expectPrototypeClean();
  }

  function expectPrototypeClean(): void {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
    const probe = {} as Record<string, unknown>;
    expect(probe.polluted).toBeUndefined();
    expect(probe.isAdmin).toBeUndefined();
  }

  /** Sends each generated body; a refusal must leave the database as it was. */
  async function checkBodies(method: string, path: string, bodies: fc.Arbitrary<string>): Promise<void> {
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const before = await snapshot();
        const res = await send(method, path, body);
        expectSane(res, `${method} ${path} ${body.slice(0, 200)}`);
        if (res.status >= 400) expect(await snapshot(), `${method} ${path} was refused (${res.status}) but wrote`).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  }

  it('POST /v1/subscriptions', async () => {
    const valid = { url: '"https://hooks.example.com/in"', eventTypes: '["order.*"]', description: '"d"', headers: '{"X-Team":"a"}', metadata: '{"k":"v"}' };
    const fields = ['url', 'eventTypes', 'description', 'secret', 'headers', 'retryPolicy', 'enabled', 'metadata', 'rateLimit', 'maxInFlight', 'disableOnGone'];
    await checkBodies('POST', '/v1/subscriptions', bodyFrom(valid, fields));
  });

  it('PATCH /v1/subscriptions/:id', async () => {
    const valid = { description: '"patched"' };
    const fields = ['url', 'eventTypes', 'description', 'secret', 'headers', 'retryPolicy', 'enabled', 'metadata', 'rateLimit', 'maxInFlight', 'disableOnGone'];
    await checkBodies('PATCH', `/v1/subscriptions/${subscriptionId}`, bodyFrom(valid, fields));
  });

  it('POST /v1/events', async () => {
    await checkBodies('POST', '/v1/events', bodyFrom({ type: '"order.created"', data: '{}' }, ['type', 'data', 'idempotencyKey']));
  });

  it('POST /v1/sources', async () => {
    const valid = { provider: '"github"', name: '"gh"', secret: '"s3cret"' };
    await checkBodies('POST', '/v1/sources', bodyFrom(valid, ['provider', 'name', 'secret', 'secrets', 'eventTypePrefix', 'config', 'enabled']));
  });

  it('PATCH /v1/settings', async () => {
    await checkBodies('PATCH', '/v1/settings', bodyFrom({ maxInFlight: '5' }, ['rateLimit', 'maxInFlight', 'breaker', 'autoDisableAfterMs']));
  });

  it('bodies that are not UTF-8, or not JSON at all', async () => {
    const routes: [string, string][] = [
      ['POST', '/v1/subscriptions'],
      ['POST', '/v1/events'],
      ['POST', '/v1/sources'],
      ['PATCH', '/v1/settings'],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.constantFrom('application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'), async ([method, path], bytes, contentType) => {
        const before = await snapshot();
        const res = await send(method, path, bytes, { 'content-type': contentType });
        expectSane(res, `${method} ${path} ${contentType} ${Buffer.from(bytes).toString('hex').slice(0, 100)}`);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(await snapshot()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });

  it('random query strings on the list routes', async () => {
    const lists = ['/v1/subscriptions', '/v1/events', '/v1/deliveries', '/v1/sources', '/v1/stats'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...lists), queryString, async (path, query) => {
        const res = await send('GET', `${path}?${query}`);
        expectSane(res, `GET ${path}?${query.slice(0, 300)}`);
        if (res.status === 200) expect(res.contentType).toMatch(/^application\/json/);
      }),
      { numRuns: RUNS },
    );
  });

  it('random ids in paths', async () => {
    const templates = ['/v1/subscriptions/:id', '/v1/events/:id', '/v1/deliveries/:id', '/v1/sources/:id'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...templates), hostileText.filter((s) => s.length > 0 && s.length < 2_000), async (template, id) => {
        const res = await send('GET', template.replace(':id', encode(id)));
        expectSane(res, `GET ${template} ${JSON.stringify(id).slice(0, 100)}`);
        // 414 when the id is longer than the router takes.
        expect([404, 414]).toContain(res.status);
      }),
      { numRuns: RUNS },
    );
  });

  describe('POST /in/:sourceId', () => {
    const sign = (body: string | Uint8Array) => `sha256=${createHmac('sha256', GITHUB_SECRET).update(body).digest('hex')}`;
    const ingestCounts = async () => {
      const [row] = await stack.db.sql`select (select count(*) from events)::int as events, (select count(*) from deliveries)::int as deliveries`;
      return row!;
    };
    const headerText = fc.oneof(
      fc.string({ maxLength: 60 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
      fc.constantFrom('push', 'hookrelay.endpoint.disabled', 'HOOKRELAY.x', '....', '*', 'a'.repeat(5_000), '../..', '%00'),
    );

    it('signed hostile bodies and headers: stored or refused, never a 500', async () => {
      const bodies = fc.oneof(
        { weight: 5, arbitrary: value.map((text) => Buffer.from(text)) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
        { weight: 1, arbitrary: fc.integer({ min: 1_048_000, max: 1_100_000 }).map((n) => Buffer.from(`"${'a'.repeat(n)}"`)) },
      );
      await fc.assert(
        fc.asyncProperty(bodies, headerText, fc.option(headerText, { nil: undefined }), fc.boolean(), async (body, event, delivery, signed) => {
          const before = await ingestCounts();
          const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': event, ...(delivery !== undefined ? { 'x-github-delivery': delivery } : {}) };
          headers['x-hub-signature-256'] = signed ? sign(body) : `sha256=${'0'.repeat(64)}`;
          const res = await send('POST', `/in/${sourceId}`, body, headers);
          expectSane(res, `POST /in ${event} ${body.subarray(0, 200).toString()}`);
          if (!signed) expect([401, 413]).toContain(res.status);
          if (res.status >= 400) expect(await ingestCounts()).toEqual(before);
        }),
        { numRuns: RUNS },
      );
    });

    it('signed bodies whose id and type are hostile (the id becomes the de-duplication key)', async () => {
      const field = fc.oneof(hostileText.map((t) => JSON.stringify(t)), numberToken, value);
      const bodies = fc.tuple(field, field, fc.boolean()).map(([id, type, both]) => (both ? objectText([['id', id], ['type', type]]) : objectText([['id', id]])));
      await fc.assert(
        fc.asyncProperty(bodies, async (body) => {
          const before = await ingestCounts();
          const signature = createHmac('sha256', GITHUB_SECRET).update(body).digest('hex');
          const res = await send('POST', `/in/${genericSourceId}`, body, { 'x-signature': signature });
          expectSane(res, `POST /in generic ${body.slice(0, 200)}`);
          if (res.status >= 400) expect(await ingestCounts()).toEqual(before);
        }),
        { numRuns: RUNS },
      );
    });

    it('random source ids and signature headers', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.constant(sourceId), hostileText.filter((s) => s.length > 0 && s.length < 2_000)),
          fc.dictionary(fc.stringMatching(/^x-[a-z-]{1,20}$/), headerText, { maxKeys: 4 }),
          fc.oneof(headerText, fc.constantFrom('sha256=', 'sha256=zz', `sha256=${'a'.repeat(64)}`, 'sha1=abc', '')),
          async (id, extra, signature) => {
            const before = await ingestCounts();
            const res = await send('POST', `/in/${encode(id)}`, '{"action":"opened"}', { ...extra, 'x-hub-signature-256': signature });
            expectSane(res, `POST /in/${JSON.stringify(id).slice(0, 80)} ${signature.slice(0, 80)}`);
            expect([401, 404, 414]).toContain(res.status);
            expect(await ingestCounts()).toEqual(before);
          },
        ),
        { numRuns: RUNS },
      );
    });
  });

  describe('custom delivery headers', () => {
    const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade'];
    const RESERVED = ['content-type', 'content-length', 'user-agent', 'host', 'content-encoding', 'expect', 'webhook-id', 'webhook-signature', 'webhook-timestamp', 'webhook-anything'];
    const randomCase = (name: string) => fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
    const goodName = fc.stringMatching(/^x-[a-z0-9-]{1,20}$/);
    const goodValue = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''));
    const goodHeaders = fc.uniqueArray(fc.tuple(goodName, goodValue), { maxLength: 5, selector: ([n]) => n });
    const badHeader = fc.oneof(
      fc.tuple(fc.constantFrom(...HOP_BY_HOP, ...RESERVED).chain(randomCase), goodValue),
      fc.tuple(
        goodName,
        fc.tuple(goodValue, fc.constantFrom('\r\n', '\n', '\r', '\u0000', '\r\nX-Injected: 1', '\u007f'), goodValue).map(([a, bad, b]) => a + bad + b),
      ),
      fc.tuple(fc.tuple(goodName, fc.constantFrom(' ', ':', '\n', '(', '"', '/', 'é', '\u0000')).map(([n, c]) => n + c), goodValue),
    );
    const headersWithOneBad = fc.tuple(goodHeaders, badHeader, fc.nat()).map(([good, bad, at]) => {
      const entries = good.filter(([n]) => n !== bad[0].toLowerCase());
      entries.splice(at % (entries.length + 1), 0, bad);
      return entries;
    });

    it('refuses CR/LF, hop-by-hop and reserved names with 400 on create and update, writing nothing', async () => {
      await fc.assert(
        fc.asyncProperty(headersWithOneBad, fc.boolean(), async (entries, create) => {
          const before = await snapshot();
          const body = objectText([
            ...(create ? [['url', '"https://hooks.example.com/in"'] as [string, string]] : []),
            ['headers', objectText(entries.map(([n, v]) => [n, JSON.stringify(v)]))],
          ]);
          const res = create ? await send('POST', '/v1/subscriptions', body) : await send('PATCH', `/v1/subscriptions/${subscriptionId}`, body);
          expectSane(res, `${create ? 'POST' : 'PATCH'} headers ${JSON.stringify(entries)}`);
          expect(res.status).toBe(400);
          expect(res.body.message).toContain('body/headers');
          expect(await snapshot()).toEqual(before);
        }),
        { numRuns: RUNS },
      );
    });

    it('accepts good headers, and refuses a 21st', async () => {
      await fc.assert(
        fc.asyncProperty(goodHeaders, async (entries) => {
          const headers = Object.fromEntries(entries);
          const res = await send('PATCH', `/v1/subscriptions/${subscriptionId}`, JSON.stringify({ headers }));
          expectSane(res, `PATCH headers ${JSON.stringify(headers)}`);
          expect(res.status).toBe(200);
          expect(res.body.headers).toEqual(headers);
        }),
        { numRuns: 20 },
      );
      const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));
      for (const [method, path, extra] of [
        ['POST', '/v1/subscriptions', { url: 'https://hooks.example.com/in' }],
        ['PATCH', `/v1/subscriptions/${subscriptionId}`, {}],
      ] as const) {
        const before = await snapshot();
        const res = await send(method, path, JSON.stringify({ ...extra, headers: many(21) }));
        expectSane(res, `${method} 21 headers`);
        expect(res.status).toBe(400);
        expect(res.body.message).toMatch(/body\/headers at most 20 headers/);
        expect(await snapshot()).toEqual(before);
      }
      const ok = await send('PATCH', `/v1/subscriptions/${subscriptionId}`, JSON.stringify({ headers: many(20) }));
      expect(ok.status, ok.text).toBe(200);
      expect(Object.keys(ok.body.headers)).toHaveLength(20);
    });
  });

  it('refuses bodies nested deeper than 128 levels with 400 (they answered 500), and takes 128', async () => {
    const nested = (depth: number) => '['.repeat(depth - 1) + '{}' + ']'.repeat(depth - 1);
    for (const depth of [129, 5_000, 60_000]) {
      const before = await snapshot();
      for (const [method, path, body] of [
        ['POST', '/v1/events', `{"type":"deep.no","data":${nested(depth)}}`],
        ['POST', '/v1/subscriptions', `{"url":"https://hooks.example.com/in","metadata":{"a":${nested(depth - 2)}}}`],
        ['PATCH', `/v1/subscriptions/${subscriptionId}`, `{"metadata":{"a":${nested(depth - 2)}}}`],
      ]) {
        const res = await send(method!, path!, body);
        expectSane(res, `${method} ${path} depth ${depth}`);
        expect(res.status, res.text).toBe(400);
        expect(res.body.message).toBe('body is nested deeper than 128 levels');
      }
      expect(await snapshot()).toEqual(before);
    }
    const ok = await send('POST', '/v1/events', `{"type":"deep.ok","data":${nested(127)}}`);
    expect(ok.status, ok.text).toBe(202);
    const stored = await send('GET', `/v1/events/${ok.body.id}`);
    expect(stored.status).toBe(200);
    expect(JSON.stringify(stored.body.data)).toBe(nested(127));
  });

  it('refuses a correctly signed ingest body nested deeper than 128 levels with 400 (it answered 500)', async () => {
    const sign = (body: string) => `sha256=${createHmac('sha256', GITHUB_SECRET).update(body).digest('hex')}`;
    const count = async () => (await stack.db.sql`select count(*)::int as n from events`)[0]!.n;
    const before = await count();
    for (const depth of [129, 20_000, 200_000]) {
      const body = '['.repeat(depth) + ']'.repeat(depth);
      const res = await send('POST', `/in/${sourceId}`, body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) });
      expectSane(res, `ingest depth ${depth}`);
      expect(res.status, res.text).toBe(400);
      expect(res.body.message).toMatch(/nested deeper than 128 levels/);
    }
    expect(await count()).toBe(before);
    const fine = '['.repeat(128) + ']'.repeat(128);
    const ok = await send('POST', `/in/${sourceId}`, fine, { 'x-github-event': 'push', 'x-hub-signature-256': sign(fine) });
    expect(ok.status, ok.text).toBe(200);
  });

  describe('values the database cannot store (each answered 500 before)', () => {
    it.each([
      ['NUL in a text field', 'POST', '/v1/subscriptions', '{"url":"https://hooks.example.com/in","description":"a\\u0000b"}', 'body/description contains a NUL character'],
      ['NUL in a URL', 'POST', '/v1/subscriptions', '{"url":"https://hooks.example.com/\\u0000"}', 'body/url contains a NUL character'],
      ['NUL in metadata', 'PATCH', '/v1/subscriptions/:id', '{"metadata":{"k":"\\u0000"}}', 'body/metadata/k contains a NUL character'],
      ['NUL in a metadata key', 'PATCH', '/v1/subscriptions/:id', '{"metadata":{"\\u0000":1}}', 'body/metadata has a key that contains a NUL character'],
      ['an unpaired surrogate in metadata', 'PATCH', '/v1/subscriptions/:id', '{"metadata":{"k":["x\\udfffy"]}}', 'body/metadata/k/0 contains a NUL character or an unpaired UTF-16 surrogate'],
      ['NUL in an idempotency key', 'POST', '/v1/events', '{"type":"a.b","data":{},"idempotencyKey":"\\u0000"}', 'body/idempotencyKey contains'],
      ['NUL in a source name', 'POST', '/v1/sources', '{"provider":"github","name":"a\\u0000","secret":"s"}', 'body/name contains'],
      ['"Infinity" for an integer', 'POST', '/v1/subscriptions', '{"url":"https://hooks.example.com/in","maxInFlight":"Infinity"}', 'body/maxInFlight must be a finite number'],
      ['["-Infinity"] for an integer', 'PATCH', '/v1/subscriptions/:id', '{"maxInFlight":["-Infinity"]}', 'body/maxInFlight must be a finite number'],
      ['"1e309" for a number', 'PATCH', '/v1/settings', '{"rateLimit":{"perSecond":"1e309"}}', 'body/rateLimit/perSecond must be a finite number'],
    ])('%s: 400 naming the field, nothing written', async (_label, method, path, body, message) => {
      const before = await snapshot();
      const res = await send(method, path.replace(':id', subscriptionId), body);
      expectSane(res, `${method} ${path} ${body}`);
      expect(res.status, res.text).toBe(400);
      expect(res.body.message).toContain(message);
      expect(await snapshot()).toEqual(before);
    });

    it('refuses limit=Infinity in a query string', async () => {
      for (const path of ['/v1/subscriptions', '/v1/events', '/v1/deliveries', '/v1/sources']) {
        const res = await send('GET', `${path}?limit=Infinity`);
        expectSane(res, `${path}?limit=Infinity`);
        expect(res.status, res.text).toBe(400);
        expect(res.body.message).toContain('querystring/limit');
      }
    });

    it('still stores event data verbatim, NUL and unpaired surrogates included', async () => {
      const res = await send('POST', '/v1/events', '{"type":"raw.data","data":{"nul":"a\\u0000b","lone":"\\ud800","k\\u0000":1}}');
      expect(res.status, res.text).toBe(202);
      const stored = await send('GET', `/v1/events/${res.body.id}`);
      expect(stored.status, stored.text).toBe(200);
      expect(stored.body.data).toEqual({ nul: 'a\u0000b', lone: '\ud800', 'k\u0000': 1 });
    });

    it('ingests a signed call whose id is 300 kB long or holds NUL, and still de-duplicates it', async () => {
      for (const id of ['i'.repeat(300_000), 'evt\u0000nul']) {
        const body = JSON.stringify({ id, type: 'thing.happened' });
        const headers = { 'x-signature': createHmac('sha256', GITHUB_SECRET).update(body).digest('hex') };
        const first = await send('POST', `/in/${genericSourceId}`, body, headers);
        expect(first.status, first.text).toBe(200);
        expect(first.body.duplicate).toBe(false);
        const again = await send('POST', `/in/${genericSourceId}`, body, headers);
        expect(again.status, again.text).toBe(200);
        expect(again.body).toMatchObject({ duplicate: true, eventId: first.body.eventId });
      }
    });
  });

  it('refuses bodies above 256 KiB on /v1 with a JSON 413 and writes nothing', async () => {
    const before = await snapshot();
    for (const [method, path, body] of [
      ['POST', '/v1/events', { type: 'big.no', data: 'x'.repeat(256 * 1024) }],
      ['POST', '/v1/subscriptions', { url: 'https://hooks.example.com/in', description: 'x'.repeat(256 * 1024) }],
      ['PATCH', '/v1/settings', { maxInFlight: 5, pad: 'x'.repeat(256 * 1024) }],
    ] as const) {
      const res = await send(method, path, JSON.stringify(body));
      expectSane(res, `${method} ${path} oversized`);
      expect(res.status).toBe(413);
    }
    expect(await snapshot()).toEqual(before);
  });
});
