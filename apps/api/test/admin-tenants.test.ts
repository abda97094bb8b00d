import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '@hookrelay/testing';
import { MALFORMED_IDS, UUID, expectBadRequest, expectNotFound, expectUnauthorized, isIsoDate, unknownId, walkPages } from './helpers.ts';

describe('operator routes: tenants', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const tenantCount = async () => Number((await stack.db.sql`select count(*)::int as n from tenants`)[0]!.n);

  describe('POST /admin/tenants', () => {
    it('creates a tenant and answers 201 with its id, name, createdAt and a working API key', async () => {
      const before = Date.now();
      const res = await stack.admin.post('/admin/tenants', { name: 'Acme Corp' });
      expect(res.status, res.text).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['apiKey', 'createdAt', 'id', 'name']);
      expect(res.body.id).toMatch(UUID);
      expect(res.body.name).toBe('Acme Corp');
      expect(isIsoDate(res.body.createdAt)).toBe(true);
      expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 5_000);
      expect(Date.parse(res.body.createdAt)).toBeLessThanOrEqual(Date.now() + 5_000);
      expect(typeof res.body.apiKey).toBe('string');
      expect(res.body.apiKey.length).toBeGreaterThanOrEqual(32);

      const asTenant = await stack.anonymous.withToken(res.body.apiKey).get('/v1/subscriptions');
      expect(asTenant.status, asTenant.text).toBe(200);
      expect(asTenant.body).toEqual({ data: [], nextCursor: null });
    });

    it('gives every tenant its own id and API key', async () => {
      const a = await stack.admin.post('/admin/tenants', { name: 'same name' });
      const b = await stack.admin.post('/admin/tenants', { name: 'same name' });
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(a.body.id).not.toBe(b.body.id);
      expect(a.body.apiKey).not.toBe(b.body.apiKey);
    });

    it.each([
      ['a missing name', {}, 'name'],
      ['an empty name', { name: '' }, 'name'],
      ['a name that is not a string', { name: { first: 'x' } }, 'name'],
      ['an unknown property', { name: 'ok', plan: 'gold' }, 'plan'],
    ])('rejects %s with a 400 naming the field and creates nothing', async (_label, body, field) => {
      const before = await tenantCount();
      expectBadRequest(await stack.admin.post('/admin/tenants', body), field);
      expect(await tenantCount()).toBe(before);
    });

    it('rejects a body that is not JSON with 400', async () => {
      const res = await stack.admin.post('/admin/tenants', '{"name":');
      expect(res.status).toBe(400);
    });
  });

  describe('operator authentication', () => {
    const routes = (id: string, keyId: string): [string, string, unknown?][] => [
      ['POST', '/admin/tenants', { name: 'intruder' }],
      ['GET', '/admin/tenants'],
      ['GET', `/admin/tenants/${id}`],
      ['POST', `/admin/tenants/${id}/api-keys`],
      ['GET', `/admin/tenants/${id}/api-keys`],
      ['DELETE', `/admin/tenants/${id}/api-keys/${keyId}`],
    ];

    it('answers 401 on every operator route without a token, with a wrong token or with a tenant API key', async () => {
      const tenant = await stack.createTenant('victim');
      const [key] = (await stack.admin.get(`/admin/tenants/${tenant.id}/api-keys`)).body.data;
      const before = await tenantCount();
      const callers = {
        none: stack.anonymous,
        wrong: stack.anonymous.withToken(`${stack.config.ADMIN_TOKEN}x`),
        prefix: stack.anonymous.withToken(stack.config.ADMIN_TOKEN.slice(0, -1)),
        tenantKey: tenant.client,
      };
      for (const [name, client] of Object.entries(callers)) {
        for (const [method, path, body] of routes(tenant.id, key.id)) {
          const res = await client.request(method, path, body);
          expect(res.status, `${name} ${method} ${path}: ${res.text}`).toBe(401);
          expectUnauthorized(res);
        }
      }
      // Nothing happened: no tenant, no key created, the key was not revoked.
      expect(await tenantCount()).toBe(before);
      const keys = (await stack.admin.get(`/admin/tenants/${tenant.id}/api-keys`)).body.data;
      expect(keys).toHaveLength(1);
      expect(keys[0].revokedAt).toBeNull();
      expect((await tenant.client.get('/v1/events')).status).toBe(200);
    });

    it('answers 401 to a malformed Authorization header', async () => {
      for (const authorization of [stack.config.ADMIN_TOKEN, `Token ${stack.config.ADMIN_TOKEN}`, 'Bearer', 'Bearer ']) {
        expectUnauthorized(await stack.anonymous.get('/admin/tenants', { authorization }));
      }
    });
  });

  describe('GET /admin/tenants/:id', () => {
    it('returns the tenant without any API key', async () => {
      const created = (await stack.admin.post('/admin/tenants', { name: 'Globex' })).body;
      const res = await stack.admin.get(`/admin/tenants/${created.id}`);
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ id: created.id, name: 'Globex', createdAt: created.createdAt });
      expect(res.text).not.toContain(created.apiKey);
    });

    it('answers 404 for an unknown tenant and for malformed ids', async () => {
      expectNotFound(await stack.admin.get(`/admin/tenants/${unknownId()}`));
      for (const id of MALFORMED_IDS) expectNotFound(await stack.admin.get(`/admin/tenants/${encodeURIComponent(id)}`));
    });
  });

  describe('GET /admin/tenants', () => {
    it('pages through every tenant exactly once, following nextCursor', async () => {
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await stack.createTenant(`paged-${i}`)).id);

      const all = (await stack.db.sql`select id from tenants`).map((r) => r.id as string);
      expect(all.length).toBeGreaterThanOrEqual(5);

      const { items, pages } = await walkPages(stack.admin, '/admin/tenants', 2);
      expect(pages.length).toBe(Math.ceil(all.length / 2));
      const ids = items.map((t) => t.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...all].sort());
      for (const id of created) expect(ids).toContain(id);
      for (const t of items) {
        expect(Object.keys(t).sort()).toEqual(['createdAt', 'id', 'name']);
        expect(isIsoDate(t.createdAt)).toBe(true);
      }
    });

    it('returns one page with nextCursor null when everything fits', async () => {
      const count = await tenantCount();
      const res = await stack.admin.get('/admin/tenants?limit=100');
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(count);
      expect(res.body.nextCursor).toBeNull();
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=many', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['sort=name', 'sort'],
    ])('rejects ?%s with a 400 naming the parameter', async (query, field) => {
      expectBadRequest(await stack.admin.get(`/admin/tenants?${query}`), field);
    });
  });
});
