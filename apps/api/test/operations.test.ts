import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '@hookrelay/testing';
import { expectUnauthorized } from './helpers.ts';

describe('operations', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  describe('health', () => {
    it('GET /healthz answers 200 without credentials', async () => {
      const res = await stack.anonymous.get('/healthz');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /readyz answers 200 with Redis and Postgres ok', async () => {
      const res = await stack.anonymous.get('/readyz');
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ redis: 'ok', postgres: 'ok' });
      expect(res.body.status).toBe('ready');
    });
  });

  describe('GET /docs/json', () => {
    it('serves an OpenAPI document with the tenant routes', async () => {
      const res = await stack.anonymous.get('/docs/json');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body.openapi).toMatch(/^3\./);
      expect(res.body.info.title).toEqual(expect.any(String));
      const paths = res.body.paths as Record<string, Record<string, unknown>>;
      expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/subscriptions', '/v1/events']));
      expect(Object.keys(paths['/v1/subscriptions']!)).toEqual(expect.arrayContaining(['get', 'post']));
      expect(Object.keys(paths['/v1/events']!)).toEqual(expect.arrayContaining(['get', 'post']));
    });
  });

  describe('Bull Board at /admin/queues', () => {
    it('answers 401 without credentials or with wrong ones', async () => {
      const res = await stack.anonymous.get('/admin/queues');
      expectUnauthorized(res);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(res.text).not.toContain('<html');

      expectUnauthorized(await stack.anonymous.withToken('wrong-token').get('/admin/queues'));
      expectUnauthorized(await stack.anonymous.get('/admin/queues', { authorization: basic('admin', 'wrong') }));
      expectUnauthorized(await stack.anonymous.get('/admin/queues', { authorization: basic(stack.config.ADMIN_TOKEN, '') }));
      const tenant = await stack.createTenant('not-an-operator');
      expectUnauthorized(await tenant.client.get('/admin/queues'));
    });

    it('serves the board as HTML with the admin token as Bearer', async () => {
      const res = await stack.admin.get('/admin/queues');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<html/i);
    });

    it.each(['admin', 'anyone', ''])('serves the board with Basic auth as user "%s" and the admin token as password', async (user) => {
      const res = await stack.anonymous.get('/admin/queues', { authorization: basic(user, stack.config.ADMIN_TOKEN) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    });

    it('serves the static assets the page references, behind the same credentials', async () => {
      const page = await stack.admin.get('/admin/queues');
      expect(page.status).toBe(200);
      const refs = [...page.text.matchAll(/(?:href|src)="([^"]*static\/[^"]+\.(?:css|js))"/g)].map((m) => m[1]!);
      expect(refs.length, 'the page references a static css or js file').toBeGreaterThan(0);

      const board = new URL('/admin/queues/', stack.baseUrl);
      for (const ref of [refs.find((r) => r.endsWith('.css')) ?? refs[0]!, refs.find((r) => r.endsWith('.js')) ?? refs[0]!]) {
        const url = new URL(ref, board);
        const path = url.pathname + url.search;
        expect(url.origin).toBe(board.origin);

        const asset = await stack.admin.get(path);
        expect(asset.status, `${path}: ${asset.text.slice(0, 200)}`).toBe(200);
        expect(asset.headers.get('content-type')).toMatch(ref.endsWith('.css') ? /text\/css/ : /javascript/);
        expect(asset.text.length).toBeGreaterThan(100);

        const viaBasic = await stack.anonymous.get(path, { authorization: basic('ops', stack.config.ADMIN_TOKEN) });
        expect(viaBasic.status).toBe(200);
        expectUnauthorized(await stack.anonymous.get(path));
      }
    });
  });

  describe('unknown routes', () => {
    it.each([
      ['GET', '/nope'],
      ['GET', '/v2/subscriptions'],
      ['POST', '/v1'],
      ['PUT', '/healthz'],
    ])('%s %s answers 404 as JSON', async (method, path) => {
      const res = await stack.anonymous.request(method, path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expect(res.body.message).toEqual(expect.any(String));
    });
  });
});
