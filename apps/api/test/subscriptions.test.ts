import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import {
  MALFORMED_IDS,
  UUID,
  expectBadRequest,
  expectNotFound,
  isIsoDate,
  subscribe,
  unknownId,
  walkPages,
} from './helpers.ts';

const secretOf = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;
const SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

const FIELDS = [
  'createdAt',
  'description',
  'disableOnGone',
  'disabledReason',
  'enabled',
  'eventTypes',
  'headers',
  'health',
  'id',
  'maxInFlight',
  'metadata',
  'previousSecretExpiresAt',
  'rateLimit',
  'retryPolicy',
  'secret',
  'updatedAt',
  'url',
];

/** Bodies (besides a valid url) the API must refuse, and the field its message must name. */
const BAD_FIELDS: [string, Record<string, unknown>, string][] = [
  ['a url that is not a URL', { url: 'not a url' }, 'url'],
  ['a relative url', { url: '/hooks/in' }, 'url'],
  ['an ftp url', { url: 'ftp://example.com/in' }, 'url'],
  ['a javascript: url', { url: 'javascript:alert(1)' }, 'url'],
  ['a url with user and password', { url: 'https://user:pass@example.com/in' }, 'url'],
  ['a url with a user name', { url: 'https://user@example.com/in' }, 'url'],
  ['an empty url', { url: '' }, 'url'],
  ['an unknown property', { colour: 'blue' }, 'colour'],
  ['a secret without the whsec_ prefix', { secret: randomBytes(32).toString('base64') }, 'secret'],
  ['a secret that is not base64', { secret: 'whsec_this is not base64!!' }, 'secret'],
  ['a secret of 23 bytes', { secret: secretOf(23) }, 'secret'],
  ['a secret of 65 bytes', { secret: secretOf(65) }, 'secret'],
  ['an empty secret', { secret: '' }, 'secret'],
  ['an eventTypes entry with a bare star suffix', { eventTypes: ['invoice*'] }, 'eventTypes'],
  ['an eventTypes entry with a leading wildcard', { eventTypes: ['*.paid'] }, 'eventTypes'],
  ['an eventTypes entry with a space', { eventTypes: ['invoice paid'] }, 'eventTypes'],
  ['an empty eventTypes entry', { eventTypes: ['ok.type', ''] }, 'eventTypes'],
  ['an eventTypes entry with a slash', { eventTypes: ['invoice/paid'] }, 'eventTypes'],
  ['eventTypes that are not strings', { eventTypes: [{ type: 'a' }] }, 'eventTypes'],
  ['a Content-Type header', { headers: { 'Content-Type': 'text/plain' } }, 'headers'],
  ['a content-length header', { headers: { 'content-length': '10' } }, 'headers'],
  ['a User-Agent header', { headers: { 'User-Agent': 'evil' } }, 'headers'],
  ['a webhook-signature header', { headers: { 'webhook-signature': 'v1,x' } }, 'headers'],
  ['a Webhook-Id header', { headers: { 'Webhook-Id': 'msg_1' } }, 'headers'],
  ['a webhook-timestamp header', { headers: { 'WEBHOOK-TIMESTAMP': '1' } }, 'headers'],
  ['a Connection header', { headers: { Connection: 'close' } }, 'headers'],
  ['a Transfer-Encoding header', { headers: { 'Transfer-Encoding': 'chunked' } }, 'headers'],
  ['an Upgrade header', { headers: { Upgrade: 'websocket' } }, 'headers'],
  ['a TE header', { headers: { TE: 'trailers' } }, 'headers'],
  ['a Keep-Alive header', { headers: { 'Keep-Alive': 'timeout=5' } }, 'headers'],
  ['a header value with CR LF', { headers: { 'X-Trace': 'a\r\nX-Injected: 1' } }, 'headers'],
  ['a header value with LF', { headers: { 'X-Trace': 'a\nb' } }, 'headers'],
  ['a header value with CR', { headers: { 'X-Trace': 'a\rb' } }, 'headers'],
  ['an invalid header name', { headers: { 'X Trace': 'a' } }, 'headers'],
  ['a header value that is an object', { headers: { 'X-Trace': { a: 1 } } }, 'headers'],
  ['headers that are an array', { headers: ['X-Trace: a'] }, 'headers'],
  ['a retryPolicy that is a string', { retryPolicy: 'aggressive' }, 'retryPolicy'],
  ['an empty retryPolicy', { retryPolicy: {} }, 'retryPolicy'],
  ['a negative schedule delay', { retryPolicy: { schedule: [1000, -1] } }, 'retryPolicy'],
  ['a fractional schedule delay', { retryPolicy: { schedule: [1.5] } }, 'retryPolicy'],
  ['a schedule that is not an array of numbers', { retryPolicy: { schedule: ['soon'] } }, 'retryPolicy'],
  ['a schedule and maxAttempts together', { retryPolicy: { schedule: [1000], maxAttempts: 2 } }, 'retryPolicy'],
  ['maxAttempts without backoff', { retryPolicy: { maxAttempts: 3 } }, 'retryPolicy'],
  ['maxAttempts of 0', { retryPolicy: { maxAttempts: 0, backoff: { type: 'exponential', baseMs: 1000, maxMs: 60000 } } }, 'retryPolicy'],
  ['a linear backoff', { retryPolicy: { maxAttempts: 3, backoff: { type: 'linear', baseMs: 1000, maxMs: 60000 } } }, 'retryPolicy'],
  ['a backoff without maxMs', { retryPolicy: { maxAttempts: 3, backoff: { type: 'exponential', baseMs: 1000 } } }, 'retryPolicy'],
  ['a backoff with baseMs above maxMs', { retryPolicy: { maxAttempts: 3, backoff: { type: 'exponential', baseMs: 60000, maxMs: 1000 } } }, 'retryPolicy'],
  ['a backoff with an unknown property', { retryPolicy: { maxAttempts: 3, backoff: { type: 'exponential', baseMs: 1, maxMs: 2, jitter: true } } }, 'retryPolicy'],
  ['enabled that is not a boolean', { enabled: 'yes' }, 'enabled'],
  ['metadata that is not an object', { metadata: 'tag' }, 'metadata'],
  ['a description that is not a string', { description: { text: 'x' } }, 'description'],
];

describe('subscriptions', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('subscriptions');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const get = (id: string) => tenant.client.get(`/v1/subscriptions/${id}`);
  const storedCount = async () =>
    Number((await stack.db.sql`select count(*)::int as n from subscriptions where tenant_id = ${tenant.id}`)[0]!.n);

  describe('POST /v1/subscriptions', () => {
    it('creates a subscription from a url alone, with defaults and a generated secret', async () => {
      const before = Date.now();
      const res = await tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/in' });
      expect(res.status, res.text).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(FIELDS);
      expect(res.body).toMatchObject({
        url: 'https://hooks.example.com/in',
        eventTypes: ['*'],
        description: null,
        headers: {},
        retryPolicy: null,
        enabled: true,
        metadata: {},
        rateLimit: null,
        maxInFlight: null,
        disableOnGone: false,
        disabledReason: null,
        health: { state: 'closed', failureRate: null, openedAt: null, nextProbeAt: null, failingSince: null },
      });
      expect(res.body.id).toMatch(UUID);
      expect(isIsoDate(res.body.createdAt)).toBe(true);
      expect(isIsoDate(res.body.updatedAt)).toBe(true);
      expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 5_000);

      const match = SECRET.exec(res.body.secret);
      expect(match, res.body.secret).not.toBeNull();
      const bytes = Buffer.from(match![1]!, 'base64');
      expect(bytes.length).toBe(32);
      expect(bytes.toString('base64')).toBe(match![1]);
    });

    it('generates a different secret for every subscription', async () => {
      const a = await subscribe(tenant);
      const b = await subscribe(tenant);
      expect(a.secret).not.toBe(b.secret);
    });

    it('stores every given field and returns it, secret included, on GET', async () => {
      const secret = secretOf(32);
      const body = {
        url: 'http://receiver.example.org:8080/hooks?team=billing',
        eventTypes: ['invoice.paid', 'customer.*'],
        description: 'Billing system',
        secret,
        headers: { 'X-Team': 'billing', Authorization: 'Bearer downstream-token' },
        retryPolicy: { maxAttempts: 5, backoff: { type: 'exponential', baseMs: 1000, maxMs: 60000 } },
        enabled: false,
        metadata: { owner: 'ops', tier: 2, tags: ['a', 'b'], nested: { ok: true, none: null } },
      };
      const res = await tenant.client.post('/v1/subscriptions', body);
      expect(res.status, res.text).toBe(201);
      expect(res.body).toMatchObject({ ...body, eventTypes: expect.arrayContaining(body.eventTypes) });
      expect([...res.body.eventTypes].sort()).toEqual([...body.eventTypes].sort());

      const read = await get(res.body.id);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(res.body);
      expect(read.body.secret).toBe(secret);
    });

    it('accepts a schedule retry policy and secrets of 24 and 64 bytes', async () => {
      const schedule = { schedule: [0, 1000, 30000] };
      const a = await tenant.client.post('/v1/subscriptions', { url: 'https://a.example.com/', retryPolicy: schedule, secret: secretOf(24) });
      expect(a.status, a.text).toBe(201);
      expect(a.body.retryPolicy).toEqual(schedule);
      const b = await tenant.client.post('/v1/subscriptions', { url: 'https://b.example.com/', secret: secretOf(64) });
      expect(b.status, b.text).toBe(201);
      expect((await get(a.body.id)).body.retryPolicy).toEqual(schedule);
    });

    it('accepts exact event types, prefix wildcards and *', async () => {
      for (const eventTypes of [['invoice.paid'], ['invoice.*'], ['a_b-c.D9.*', 'x'], ['*']]) {
        const res = await tenant.client.post('/v1/subscriptions', { url: 'https://example.com/', eventTypes });
        expect(res.status, `${JSON.stringify(eventTypes)}: ${res.text}`).toBe(201);
        expect([...res.body.eventTypes].sort()).toEqual([...eventTypes].sort());
      }
    });

    it('rejects a body without url, naming the field', async () => {
      expectBadRequest(await tenant.client.post('/v1/subscriptions', { eventTypes: ['a'] }), 'url');
    });

    it.each(BAD_FIELDS)('rejects %s with a 400 naming the field and stores nothing', async (_label, fields, field) => {
      const before = await storedCount();
      expectBadRequest(await tenant.client.post('/v1/subscriptions', { url: 'https://example.com/in', ...fields }), field);
      expect(await storedCount()).toBe(before);
    });
  });

  describe('GET /v1/subscriptions', () => {
    it('lists subscriptions page by page without their secrets', async () => {
      const { items } = await walkPages(tenant.client, '/v1/subscriptions', 3);
      const stored = (await stack.db.sql`select id from subscriptions where tenant_id = ${tenant.id} and deleted_at is null`).map((r) => r.id);
      expect(stored.length).toBeGreaterThan(3);
      const ids = items.map((s) => s.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...stored].sort());
      for (const s of items) {
        expect(s).not.toHaveProperty('secret');
        expect(Object.keys(s).sort()).toEqual(FIELDS.filter((f) => f !== 'secret' && f !== 'health'));
      }
      const whole = await tenant.client.get('/v1/subscriptions?limit=100');
      expect(whole.body.nextCursor).toBeNull();
      expect(whole.text).not.toContain('whsec_');
      expect(whole.text).not.toContain('"secret"');
    });

    it('rejects a bad limit or cursor with 400', async () => {
      expectBadRequest(await tenant.client.get('/v1/subscriptions?limit=0'), 'limit');
      expectBadRequest(await tenant.client.get('/v1/subscriptions?limit=101'), 'limit');
      expectBadRequest(await tenant.client.get('/v1/subscriptions?cursor=bogus'), 'cursor');
    });
  });

  describe('GET /v1/subscriptions/:id', () => {
    it('answers 404 for unknown and malformed ids', async () => {
      expectNotFound(await get(unknownId()));
      for (const id of MALFORMED_IDS) expectNotFound(await get(encodeURIComponent(id)));
    });
  });

  describe('PATCH /v1/subscriptions/:id', () => {
    it('changes only the given fields', async () => {
      const original = await subscribe(tenant, {
        eventTypes: ['order.created'],
        description: 'orders',
        headers: { 'X-A': '1' },
        metadata: { a: 1 },
        retryPolicy: { schedule: [1000] },
      });
      await new Promise((r) => setTimeout(r, 5));
      const res = await tenant.client.patch(`/v1/subscriptions/${original.id}`, { url: 'https://new.example.com/in' });
      expect(res.status, res.text).toBe(200);
      const { url, updatedAt, ...unchanged } = res.body;
      const { url: oldUrl, updatedAt: oldUpdatedAt, ...before } = original;
      expect(url).toBe('https://new.example.com/in');
      expect(oldUrl).not.toBe(url);
      expect(unchanged).toEqual(before);
      expect(Date.parse(updatedAt)).toBeGreaterThan(Date.parse(oldUpdatedAt));
      expect((await get(original.id)).body).toEqual(res.body);
    });

    it('updates every field, including clearing the retry policy with null', async () => {
      const original = await subscribe(tenant, { retryPolicy: { schedule: [5] } });
      const secret = secretOf(40);
      const patch = {
        eventTypes: ['user.*'],
        description: 'users',
        secret,
        headers: { 'X-B': '2' },
        retryPolicy: null,
        enabled: false,
        metadata: { b: [2] },
      };
      const res = await tenant.client.patch(`/v1/subscriptions/${original.id}`, patch);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ ...patch, id: original.id, url: original.url, createdAt: original.createdAt });
      expect((await get(original.id)).body).toEqual(res.body);

      const back = await tenant.client.patch(`/v1/subscriptions/${original.id}`, {
        enabled: true,
        retryPolicy: { maxAttempts: 2, backoff: { type: 'exponential', baseMs: 10, maxMs: 20 } },
      });
      expect(back.status).toBe(200);
      expect(back.body.enabled).toBe(true);
      expect(back.body.retryPolicy).toEqual({ maxAttempts: 2, backoff: { type: 'exponential', baseMs: 10, maxMs: 20 } });
      expect(back.body.secret).toBe(secret);
    });

    it.each(BAD_FIELDS)('rejects %s with a 400 naming the field and changes nothing', async (_label, fields, field) => {
      const original = await subscribe(tenant, { description: 'stays' });
      expectBadRequest(await tenant.client.patch(`/v1/subscriptions/${original.id}`, fields), field);
      expect((await get(original.id)).body).toEqual(original);
    });

    it('answers 404 for unknown and malformed ids', async () => {
      expectNotFound(await tenant.client.patch(`/v1/subscriptions/${unknownId()}`, { enabled: false }));
      for (const id of MALFORMED_IDS) {
        expectNotFound(await tenant.client.patch(`/v1/subscriptions/${encodeURIComponent(id)}`, { enabled: false }));
      }
    });
  });

  describe('DELETE /v1/subscriptions/:id', () => {
    it('answers 204, after which the subscription is gone from GET, PATCH, DELETE and the list', async () => {
      const sub = await subscribe(tenant);
      const res = await tenant.client.delete(`/v1/subscriptions/${sub.id}`);
      expect(res.status, res.text).toBe(204);
      expect(res.text).toBe('');

      expectNotFound(await get(sub.id));
      expectNotFound(await tenant.client.patch(`/v1/subscriptions/${sub.id}`, { enabled: true }));
      expectNotFound(await tenant.client.delete(`/v1/subscriptions/${sub.id}`));
      const { items } = await walkPages(tenant.client, '/v1/subscriptions', 100);
      expect(items.map((s) => s.id)).not.toContain(sub.id);
    });

    it('answers 404 for unknown and malformed ids', async () => {
      expectNotFound(await tenant.client.delete(`/v1/subscriptions/${unknownId()}`));
      for (const id of MALFORMED_IDS) expectNotFound(await tenant.client.delete(`/v1/subscriptions/${encodeURIComponent(id)}`));
    });
  });
});
