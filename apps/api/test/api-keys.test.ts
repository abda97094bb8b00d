import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import { UUID, expectNotFound, expectUnauthorized, isIsoDate, unknownId } from './helpers.ts';

describe('API keys and tenant authentication', () => {
  let stack: Stack;
  /** Every key this file was ever shown, to look for in storage. */
  const issuedKeys: string[] = [];

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const newTenant = async (name = 'keys') => {
    const tenant = await stack.createTenant(name);
    issuedKeys.push(tenant.apiKey);
    return tenant;
  };
  const addKey = async (tenant: Tenant) => {
    const res = await stack.admin.post(`/admin/tenants/${tenant.id}/api-keys`);
    expect(res.status, res.text).toBe(201);
    issuedKeys.push(res.body.apiKey);
    return res.body as { id: string; hint: string; createdAt: string; revokedAt: null; apiKey: string };
  };
  const listKeys = async (tenantId: string) => {
    const res = await stack.admin.get(`/admin/tenants/${tenantId}/api-keys`);
    expect(res.status, res.text).toBe(200);
    return res;
  };

  describe('POST /admin/tenants/:id/api-keys', () => {
    it('answers 201 with a new key that works for the same tenant', async () => {
      const tenant = await newTenant();
      const key = await addKey(tenant);
      expect(Object.keys(key).sort()).toEqual(['apiKey', 'createdAt', 'hint', 'id', 'revokedAt']);
      expect(key.id).toMatch(UUID);
      expect(isIsoDate(key.createdAt)).toBe(true);
      expect(key.revokedAt).toBeNull();
      expect(key.apiKey).not.toBe(tenant.apiKey);

      // Both keys act as the same tenant: what one creates, the other sees.
      const second = stack.anonymous.withToken(key.apiKey);
      const sub = await second.post('/v1/subscriptions', { url: 'https://example.com/a' });
      expect(sub.status, sub.text).toBe(201);
      const viaFirst = await tenant.client.get(`/v1/subscriptions/${sub.body.id}`);
      expect(viaFirst.status).toBe(200);
      expect(viaFirst.body.id).toBe(sub.body.id);
    });

    it('answers 404 for an unknown or malformed tenant id', async () => {
      expectNotFound(await stack.admin.post(`/admin/tenants/${unknownId()}/api-keys`));
      expectNotFound(await stack.admin.post('/admin/tenants/not-a-uuid/api-keys'));
    });
  });

  describe('GET /admin/tenants/:id/api-keys', () => {
    it('lists every key with its hint but never the key itself', async () => {
      const tenant = await newTenant();
      const extra = await addKey(tenant);
      const res = await listKeys(tenant.id);
      expect(res.body.data).toHaveLength(2);
      for (const key of res.body.data) {
        expect(Object.keys(key).sort()).toEqual(['createdAt', 'hint', 'id', 'revokedAt']);
        expect(key.id).toMatch(UUID);
        expect(key.revokedAt).toBeNull();
      }
      expect(res.text).not.toContain(tenant.apiKey);
      expect(res.text).not.toContain(extra.apiKey);

      const hints = res.body.data.map((k: { hint: string }) => k.hint);
      for (const apiKey of [tenant.apiKey, extra.apiKey]) {
        const hint = hints.find((h: string) => apiKey.startsWith(h));
        expect(hint, 'each key has a hint that starts it').toBeDefined();
        expect(hint!.length).toBeGreaterThan(0);
        expect(hint!.length).toBeLessThan(apiKey.length / 2);
      }
      expect(res.body.data.map((k: { id: string }) => k.id)).toContain(extra.id);
    });

    it('answers 404 for an unknown tenant', async () => {
      expectNotFound(await stack.admin.get(`/admin/tenants/${unknownId()}/api-keys`));
    });
  });

  describe('DELETE /admin/tenants/:id/api-keys/:keyId', () => {
    it('revokes one key at once while the tenant’s other keys keep working', async () => {
      const tenant = await newTenant();
      const extra = await addKey(tenant);
      const revoked = stack.anonymous.withToken(extra.apiKey);
      expect((await revoked.get('/v1/subscriptions')).status).toBe(200);

      const res = await stack.admin.delete(`/admin/tenants/${tenant.id}/api-keys/${extra.id}`);
      expect(res.status, res.text).toBe(204);
      expect(res.text).toBe('');

      expectUnauthorized(await revoked.get('/v1/subscriptions'));
      expectUnauthorized(await revoked.post('/v1/subscriptions', { url: 'https://example.com/x' }));
      expectUnauthorized(await revoked.post('/v1/events', { type: 'a.b', data: {} }));
      expectUnauthorized(await revoked.get('/v1/events'));
      expectUnauthorized(await revoked.get('/v1/deliveries'));

      expect((await tenant.client.get('/v1/subscriptions')).status).toBe(200);
      expect((await tenant.client.post('/v1/events', { type: 'a.b', data: {} })).status).toBe(202);
      // The revoked key's request created nothing.
      expect((await tenant.client.get('/v1/subscriptions')).body.data).toEqual([]);
      expect((await tenant.client.get('/v1/events')).body.data).toHaveLength(1);

      const keys = (await listKeys(tenant.id)).body.data as { id: string; revokedAt: string | null }[];
      expect(keys.find((k) => k.id === extra.id)!.revokedAt).not.toBeNull();
      expect(isIsoDate(keys.find((k) => k.id === extra.id)!.revokedAt)).toBe(true);
      expect(keys.find((k) => k.id !== extra.id)!.revokedAt).toBeNull();
    });

    it('answers 404 for an already revoked key, an unknown key, or a key of another tenant', async () => {
      const owner = await newTenant('owner');
      const other = await newTenant('other');
      const key = await addKey(owner);

      expectNotFound(await stack.admin.delete(`/admin/tenants/${other.id}/api-keys/${key.id}`));
      expect((await stack.anonymous.withToken(key.apiKey).get('/v1/events')).status).toBe(200);

      expectNotFound(await stack.admin.delete(`/admin/tenants/${owner.id}/api-keys/${unknownId()}`));
      expectNotFound(await stack.admin.delete(`/admin/tenants/${owner.id}/api-keys/not-a-uuid`));
      expectNotFound(await stack.admin.delete(`/admin/tenants/not-a-uuid/api-keys/${key.id}`));

      expect((await stack.admin.delete(`/admin/tenants/${owner.id}/api-keys/${key.id}`)).status).toBe(204);
      expectNotFound(await stack.admin.delete(`/admin/tenants/${owner.id}/api-keys/${key.id}`));
    });
  });

  describe('tenant authentication on /v1', () => {
    const routes = (id: string): [string, string, unknown?][] => [
      ['GET', '/v1/subscriptions'],
      ['POST', '/v1/subscriptions', { url: 'https://example.com/hook' }],
      ['GET', `/v1/subscriptions/${id}`],
      ['PATCH', `/v1/subscriptions/${id}`, { enabled: false }],
      ['DELETE', `/v1/subscriptions/${id}`],
      ['GET', '/v1/events'],
      ['POST', '/v1/events', { type: 'order.created', data: {} }],
      ['GET', `/v1/events/${id}`],
      ['GET', '/v1/deliveries'],
      ['GET', `/v1/deliveries/${id}`],
      ['POST', `/v1/deliveries/${id}/retry`],
    ];

    it('answers 401 on every tenant route without a key, with an unknown key, or with the admin token', async () => {
      const tenant = await newTenant('auth');
      const sub = await tenant.client.post('/v1/subscriptions', { url: 'https://example.com/keep' });
      expect(sub.status).toBe(201);
      const callers = {
        none: stack.anonymous,
        unknown: stack.anonymous.withToken(`hr_${'A'.repeat(43)}`),
        almost: stack.anonymous.withToken(`${tenant.apiKey.slice(0, -1)}${tenant.apiKey.endsWith('A') ? 'B' : 'A'}`),
        admin: stack.admin,
      };
      for (const [name, client] of Object.entries(callers)) {
        for (const [method, path, body] of routes(sub.body.id)) {
          const res = await client.request(method, path, body);
          expect(res.status, `${name} ${method} ${path}: ${res.text}`).toBe(401);
          expectUnauthorized(res);
        }
      }
      // None of those requests changed anything.
      const subs = (await tenant.client.get('/v1/subscriptions')).body.data;
      expect(subs).toHaveLength(1);
      expect(subs[0].enabled).toBe(true);
      expect((await tenant.client.get('/v1/events')).body.data).toEqual([]);
    });

    it('answers 401 to a key sent without the Bearer scheme', async () => {
      const tenant = await newTenant();
      for (const authorization of [tenant.apiKey, `Basic ${tenant.apiKey}`, 'Bearer', `Token ${tenant.apiKey}`]) {
        expectUnauthorized(await stack.anonymous.get('/v1/subscriptions', { authorization }));
      }
      expect((await stack.anonymous.get('/v1/subscriptions', { authorization: `Bearer ${tenant.apiKey}` })).status).toBe(200);
    });
  });

  it('stores API keys only as hashes', async () => {
    const tenant = await newTenant('storage');
    await addKey(tenant);
    expect(issuedKeys.length).toBeGreaterThan(5);

    const rows = await stack.db.sql`select * from api_keys`;
    expect(rows.length).toBe(issuedKeys.length);
    const stored = rows.flatMap((row) => Object.values(row).map((v) => (v instanceof Date ? v.toISOString() : String(v))));
    for (const key of issuedKeys) {
      for (const value of stored) expect(value.includes(key), 'a column holds an API key').toBe(false);
    }
    // Nor anywhere else in the database.
    const dump = await stack.db.sql`select string_agg(t::text, '\n') as text from (
      select row_to_json(x)::text as t from tenants x union all select row_to_json(x)::text from api_keys x) q`;
    for (const key of issuedKeys) expect(dump[0]!.text).not.toContain(key);
  });
});
