import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type ApiResponse, type Tenant } from '@hookrelay/testing';

/** `content-security-policy` as a map of directive to its sources. */
function csp(res: ApiResponse): Map<string, string[]> {
  const header = res.headers.get('content-security-policy');
  expect(header, 'a Content-Security-Policy header').toBeTruthy();
  return new Map(
    header!
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

function expectSecurityHeaders(res: ApiResponse, what: string): void {
  expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(res.headers.get('strict-transport-security'), what).toMatch(/^max-age=\d{7,}; includeSubDomains/);
  expect(res.headers.get('x-frame-options'), what).toBe('SAMEORIGIN');
  expect(res.headers.get('referrer-policy'), what).toBe('no-referrer');
  expect(res.headers.get('x-dns-prefetch-control'), what).toBe('off');
  expect(res.headers.get('cross-origin-opener-policy'), what).toBe('same-origin');
  expect(res.headers.get('x-powered-by'), what).toBeNull();
  expect(res.headers.get('server'), what).toBeNull();
  // Nothing ever asks a browser to upgrade: the API is often reached over plain HTTP inside a network.
  expect(csp(res).has('upgrade-insecure-requests'), what).toBe(false);
}

/** Same-origin assets a page loads: scripts, stylesheets and icons it names. */
function assetsOf(html: string, pageUrl: string): URL[] {
  const refs = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  return refs.map((ref) => new URL(ref, pageUrl)).filter((url) => url.origin === new URL(pageUrl).origin);
}

/** Inline scripts a `script-src 'self'` policy would block (JSON data blocks are not run). */
const inlineScripts = (html: string) =>
  [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].filter(([, attrs, body]) => !/\bsrc=/.test(attrs!) && !/type="application\/json"/.test(attrs!) && body!.trim() !== '');

describe('security headers', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('headers');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('are on every API answer, with a CSP that lets JSON load nothing and be framed nowhere', async () => {
    const source = await tenant.client.post('/v1/sources', { provider: 'github', name: 'gh', secret: 's' });
    const answers: [string, ApiResponse][] = [
      ['GET /v1/subscriptions', await tenant.client.get('/v1/subscriptions')],
      ['POST /v1/events', await tenant.client.post('/v1/events', { type: 'a.b', data: {} })],
      ['400', await tenant.client.post('/v1/events', { type: 'not valid!' })],
      ['401', await stack.anonymous.get('/v1/subscriptions')],
      ['404', await stack.anonymous.get('/nowhere')],
      ['POST /in/:id 401', await stack.anonymous.post(`/in/${source.body.id}`, {}, { 'x-hub-signature-256': 'sha256=00' })],
      ['GET /healthz', await stack.anonymous.get('/healthz')],
      ['GET /admin/tenants', await stack.admin.get('/admin/tenants')],
      ['GET /metrics', await stack.anonymous.get('/metrics')],
    ];
    for (const [what, res] of answers) {
      expect(res.status, what).toBeLessThan(500);
      expectSecurityHeaders(res, what);
      const policy = csp(res);
      expect(policy.get('default-src'), what).toEqual(["'none'"]);
      expect(policy.get('frame-ancestors'), what).toEqual(["'none'"]);
    }
  });

  it('leave Swagger UI at /docs working: 200, every asset loads, and the policy allows them', async () => {
    for (const path of ['/docs', '/docs/']) {
      const page = await stack.anonymous.get(path);
      expect(page.status, path).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expectSecurityHeaders(page, path);
      const policy = csp(page);
      expect(policy.get('script-src')).toEqual(["'self'"]);
      expect(policy.get('style-src')).toEqual(expect.arrayContaining(["'self'", "'unsafe-inline'"]));
      expect(policy.get('img-src')).toEqual(expect.arrayContaining(["'self'", 'data:']));
      expect(inlineScripts(page.text)).toEqual([]);

      const assets = assetsOf(page.text, stack.baseUrl + path);
      expect(assets.map((a) => a.pathname)).toEqual(expect.arrayContaining([expect.stringMatching(/swagger-ui-bundle\.js$/), expect.stringMatching(/swagger-ui\.css$/)]));
      for (const asset of assets) {
        const res = await stack.anonymous.get(asset.pathname + asset.search);
        expect(res.status, asset.pathname).toBe(200);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        if (asset.pathname.endsWith('.js')) expect(res.headers.get('content-type')).toMatch(/javascript/);
        if (asset.pathname.endsWith('.css')) expect(res.headers.get('content-type')).toMatch(/text\/css/);
      }
    }
    // The specification the page fetches.
    const spec = await stack.anonymous.get('/docs/json');
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toMatch(/^3\./);
  });

  it('leave Bull Board at /admin/queues working: 200, every asset and its API load, and the policy allows them', async () => {
    const page = await stack.admin.get('/admin/queues');
    expect(page.status).toBe(200);
    expectSecurityHeaders(page, '/admin/queues');
    const policy = csp(page);
    expect(policy.get('script-src')).toEqual(["'self'"]);
    // The board styles elements inline and loads its fonts from Google Fonts.
    expect(policy.get('style-src')).toEqual(expect.arrayContaining(["'self'", 'https:', "'unsafe-inline'"]));
    expect(policy.get('font-src')).toEqual(expect.arrayContaining(["'self'", 'https:']));
    expect(inlineScripts(page.text)).toEqual([]);

    const assets = assetsOf(page.text, `${stack.baseUrl}/admin/queues/`);
    expect(assets.some((a) => a.pathname.endsWith('.js'))).toBe(true);
    for (const asset of assets) {
      const res = await stack.admin.get(asset.pathname + asset.search);
      expect(res.status, asset.pathname).toBe(200);
    }
    const api = await stack.admin.get('/admin/queues/api/queues');
    expect(api.status, api.text).toBe(200);
    expect(api.body.queues.length).toBeGreaterThan(0);
  });
});
