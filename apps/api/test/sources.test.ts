import { createHmac, randomUUID } from 'node:crypto';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { expectBadRequest, expectNotFound, expectUnauthorized } from './helpers.ts';

const stripe = new Stripe('sk_test_unused');
const hmac = (alg: string, key: string, data: string, enc: 'hex' | 'base64') => createHmac(alg, key).update(data).digest(enc);
const nowSec = () => Math.floor(Date.now() / 1000);

interface Call {
  body: string;
  headers: Record<string, string>;
}

interface ProviderCase {
  provider: string;
  secret: string;
  /** The older of two active secrets, during a rotation. */
  olderSecret?: string;
  config?: Record<string, unknown>;
  /** A fresh notification: body plus the provider's own id and type for it. */
  payload(): { body: string; type: string; dedup: string; contentType?: string; extraHeaders?: Record<string, string> };
  /** Signs as the provider does, at `ts` (unix seconds). Built from the providers' own libraries or docs. */
  sign(body: string, secret: string, ts: number, extra: Record<string, string>): Record<string, string>;
  /** Whether a timestamp is part of the signature (so a stale one must be refused). */
  timestamped: boolean;
  /** The event type Hookrelay should give the event (prefix `in` is configured on every source). */
  expectedType(type: string): string;
}

const CASES: ProviderCase[] = [
  {
    provider: 'stripe',
    secret: 'whsec_test_' + randomUUID().replaceAll('-', ''),
    payload: () => {
      const id = `evt_${randomUUID().replaceAll('-', '')}`;
      return { body: JSON.stringify({ id, object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', amount: 1000 } } }), type: 'payment_intent.succeeded', dedup: id };
    },
    sign: (body, secret, ts) => ({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: ts }) }),
    timestamped: true,
    expectedType: (t) => `in.${t}`,
  },
  {
    provider: 'paystack',
    secret: 'sk_test_' + randomUUID().replaceAll('-', ''),
    payload: () => {
      const id = Math.floor(Math.random() * 1e9);
      return { body: JSON.stringify({ event: 'charge.success', data: { id, reference: `ref_${id}`, amount: 5000 } }), type: 'charge.success', dedup: `charge.success:${id}` };
    },
    sign: (body, secret) => ({ 'x-paystack-signature': hmac('sha512', secret, body, 'hex') }),
    timestamped: false,
    expectedType: (t) => `in.${t}`,
  },
  {
    provider: 'flutterwave',
    secret: 'flw-secret-hash-' + randomUUID(),
    payload: () => {
      const id = Math.floor(Math.random() * 1e9);
      return { body: JSON.stringify({ event: 'charge.completed', data: { id, tx_ref: `tx_${id}`, status: 'successful' } }), type: 'charge.completed', dedup: `charge.completed:${id}` };
    },
    sign: (body, secret) => ({ 'flutterwave-signature': hmac('sha256', secret, body, 'base64') }),
    timestamped: false,
    expectedType: (t) => `in.${t}`,
  },
  {
    provider: 'authorize_net',
    secret: randomUUID().replaceAll('-', '').toUpperCase().repeat(4),
    payload: () => {
      const id = randomUUID();
      return {
        body: JSON.stringify({ notificationId: id, eventType: 'net.authorize.payment.authcapture.created', eventDate: new Date().toISOString(), webhookId: randomUUID(), payload: { id: '120011377052', authAmount: 1.1 } }),
        type: 'net.authorize.payment.authcapture.created',
        dedup: id,
      };
    },
    sign: (body, secret) => ({ 'x-anet-signature': `sha512=${hmac('sha512', secret, body, 'hex').toUpperCase()}` }),
    timestamped: false,
    expectedType: (t) => `in.${t}`,
  },
  {
    provider: 'github',
    secret: `It's a Secret to ${randomUUID()}`,
    payload: () => {
      const delivery = randomUUID();
      return { body: JSON.stringify({ action: 'opened', number: 7, repository: { full_name: 'acme/app' } }), type: 'pull_request', dedup: delivery, extraHeaders: { 'x-github-event': 'pull_request', 'x-github-delivery': delivery, 'x-github-hook-id': '42' } };
    },
    sign: () => ({}), // async: signed in `signed()` below
    timestamped: false,
    expectedType: (t) => `in.${t}`,
  },
  {
    provider: 'shopify',
    secret: 'shpss_' + randomUUID().replaceAll('-', ''),
    payload: () => {
      const webhookId = randomUUID();
      return { body: JSON.stringify({ id: 820982911946154500, email: 'jon@example.com', total_price: '10.00' }), type: 'orders/create', dedup: webhookId, extraHeaders: { 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': webhookId, 'x-shopify-shop-domain': 'acme.myshopify.com' } };
    },
    sign: (body, secret) => ({ 'x-shopify-hmac-sha256': hmac('sha256', secret, body, 'base64') }),
    timestamped: false,
    expectedType: () => 'in.orders.create',
  },
  {
    provider: 'slack',
    secret: randomUUID().replaceAll('-', ''),
    payload: () => {
      const eventId = `Ev${randomUUID().replaceAll('-', '').slice(0, 10)}`;
      return { body: JSON.stringify({ type: 'event_callback', event_id: eventId, team_id: 'T1', event: { type: 'app_mention', text: 'hi' } }), type: 'app_mention', dedup: eventId };
    },
    sign: (body, secret, ts) => ({ 'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${hmac('sha256', secret, `v0:${ts}:${body}`, 'hex')}` }),
    timestamped: true,
    expectedType: (t) => `in.${t}`,
  },
  {
    provider: 'standard_webhooks',
    secret: 'whsec_' + Buffer.from(randomUUID() + randomUUID()).toString('base64'),
    olderSecret: 'whsec_' + Buffer.from(randomUUID()).toString('base64'),
    payload: () => {
      const id = `msg_${randomUUID()}`;
      return { body: JSON.stringify({ type: 'user.created', data: { id: 1 } }), type: 'user.created', dedup: id, extraHeaders: { 'webhook-id': id } };
    },
    sign: (body, secret, ts, extra) => ({
      'webhook-timestamp': String(ts),
      'webhook-signature': new Webhook(secret).sign(extra['webhook-id']!, new Date(ts * 1000), body),
    }),
    timestamped: true,
    expectedType: (t) => `in.${t}`,
  },
  {
    provider: 'generic_hmac',
    secret: 'generic-' + randomUUID(),
    config: { header: 'x-acme-signature', algorithm: 'sha512', encoding: 'base64', prefix: 'sha512=', idHeader: 'x-acme-delivery' },
    payload: () => {
      const id = randomUUID();
      return { body: JSON.stringify({ type: 'invoice.created', id: 'in_1' }), type: 'invoice.created', dedup: id, extraHeaders: { 'x-acme-delivery': id } };
    },
    sign: (body, secret) => ({ 'x-acme-signature': `sha512=${hmac('sha512', secret, body, 'base64')}` }),
    timestamped: false,
    expectedType: (t) => `in.${t}`,
  },
];

/** A secret of the right shape that the source does not hold. */
const wrong = (c: ProviderCase) =>
  c.provider === 'standard_webhooks' ? 'whsec_' + Buffer.from(randomUUID()).toString('base64') : `${c.secret}-wrong`;
const older = (c: ProviderCase) => c.olderSecret ?? `older-${c.secret}`;

async function signed(c: ProviderCase, body: string, secret: string, ts: number, extra: Record<string, string> = {}, contentType = 'application/json'): Promise<Call> {
  const signature = c.provider === 'github' ? { 'x-hub-signature-256': await githubSign(secret, body) } : c.sign(body, secret, ts, extra);
  return { body, headers: { 'content-type': contentType, ...extra, ...signature } };
}

describe('inbound sources', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 1 });
    tenant = await stack.createTenant('receiver-of-webhooks');
    receiver = await startReceiver();
    // Every source below prefixes its types with `in.`; one subscription takes them all.
    await tenant.client.post('/v1/subscriptions', { url: receiver.url, eventTypes: ['in.*'] });
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  const post = (id: string, call: Call) => stack.anonymous.request('POST', `/in/${id}`, call.body, call.headers);
  const eventCount = async () => Number((await stack.db.sql`select count(*)::int as n from events where tenant_id = ${tenant.id}`)[0]!.n);

  describe.each(CASES)('$provider', (c) => {
    let sourceId: string;

    beforeAll(async () => {
      const res = await tenant.client.post('/v1/sources', {
        provider: c.provider,
        name: `${c.provider} source`,
        secrets: [c.secret, older(c)],
        eventTypePrefix: 'in',
        ...(c.config ? { config: c.config } : {}),
      });
      expect(res.status, res.text).toBe(201);
      expect(res.body.ingestUrl).toBe(`${stack.baseUrl}/in/${res.body.id}`);
      expect(res.body).not.toHaveProperty('secrets');
      expect(res.body.secretCount).toBe(2);
      sourceId = res.body.id;
    });

    it('accepts a correctly signed call, stores it as an event and delivers it', async () => {
      const p = c.payload();
      const res = await post(sourceId, await signed(c, p.body, c.secret, nowSec(), p.extraHeaders));
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ received: true, duplicate: false });

      const event = await tenant.client.get(`/v1/events/${res.body.eventId}`);
      expect(event.body.type).toBe(c.expectedType(p.type));
      expect(event.body.data).toEqual(JSON.parse(p.body));
      expect(event.body.source).toMatchObject({ sourceId, provider: c.provider, dedupKey: p.dedup });
      expect(JSON.stringify(event.body.source.headers)).not.toMatch(/signature|hmac/i);

      const arrival = () => receiver.requests.find((r) => r.headers['webhook-id'] === res.body.eventId);
      await expect.poll(() => arrival() !== undefined, { timeout: 10_000 }).toBe(true);
      expect(JSON.parse(arrival()!.body)).toMatchObject({ type: c.expectedType(p.type), data: JSON.parse(p.body) });
    });

    it('accepts the second of two secrets, for rotation', async () => {
      const p = c.payload();
      const res = await post(sourceId, await signed(c, p.body, older(c), nowSec(), p.extraHeaders));
      expect(res.status, res.text).toBe(200);
    });

    it('answers a provider retry of the same notification with 200 and creates nothing', async () => {
      const p = c.payload();
      const first = await post(sourceId, await signed(c, p.body, c.secret, nowSec(), p.extraHeaders));
      const before = await eventCount();
      const retry = await post(sourceId, await signed(c, p.body, c.secret, nowSec() + 1, p.extraHeaders));
      expect(retry.status, retry.text).toBe(200);
      expect(retry.body).toEqual({ received: true, duplicate: true, eventId: first.body.eventId });
      expect(await eventCount()).toBe(before);
    });

    it('refuses a bad signature, a tampered body and a missing signature with 401, storing nothing', async () => {
      const p = c.payload();
      const before = await eventCount();
      const wrongSecret = await signed(c, p.body, wrong(c), nowSec(), p.extraHeaders);
      expectUnauthorized(await post(sourceId, wrongSecret));
      const good = await signed(c, p.body, c.secret, nowSec(), p.extraHeaders);
      expectUnauthorized(await post(sourceId, { ...good, body: p.body.replace('}', ',"x":1}') }));
      expectUnauthorized(await post(sourceId, { body: p.body, headers: { 'content-type': 'application/json', ...p.extraHeaders } }));
      expect(await eventCount()).toBe(before);
    });

    // Only schemes that sign a timestamp have one to refuse.
    if (c.timestamped)
      it('refuses a signed timestamp more than five minutes old or ahead', async () => {
        const p = c.payload();
        expectUnauthorized(await post(sourceId, await signed(c, p.body, c.secret, nowSec() - 6 * 60, p.extraHeaders)));
        expectUnauthorized(await post(sourceId, await signed(c, p.body, c.secret, nowSec() + 6 * 60, p.extraHeaders)));
        // Within the window both ways is fine.
        const ok = await post(sourceId, await signed(c, p.body, c.secret, nowSec() - 4 * 60, p.extraHeaders));
        expect(ok.status, ok.text).toBe(200);
      });

    it('counts accepted, duplicate and rejected calls', async () => {
      const res = await tenant.client.get(`/v1/sources/${sourceId}`);
      expect(res.body.stats.accepted).toBeGreaterThanOrEqual(3);
      expect(res.body.stats.duplicate).toBe(1);
      expect(res.body.stats.rejected).toBeGreaterThanOrEqual(3);
      expect(res.body.stats.lastReceivedAt).not.toBeNull();
    });

    it('sends itself a correctly signed sample call through POST /v1/sources/:id/test', async () => {
      const res = await tenant.client.post(`/v1/sources/${sourceId}/test`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.statusCode).toBe(200);
      expect(res.body.response).toMatchObject({ received: true, duplicate: false });
      const event = await tenant.client.get(`/v1/events/${res.body.response.eventId}`);
      expect(event.body.type.startsWith('in.')).toBe(true);
    });
  });

  it('verifies Slack form-encoded slash commands and answers url_verification challenges', async () => {
    const secret = randomUUID();
    const created = await tenant.client.post('/v1/sources', { provider: 'slack', name: 'slack', secret });
    const id = created.body.id;
    const slack = CASES.find((c) => c.provider === 'slack')!;
    const form = 'token=x&team_id=T1&command=%2Fdeploy&text=now';
    const res = await post(id, await signed(slack, form, secret, nowSec(), {}, 'application/x-www-form-urlencoded'));
    expect(res.status, res.text).toBe(200);
    const event = await tenant.client.get(`/v1/events/${res.body.eventId}`);
    expect(event.body.type).toBe('deploy');
    expect(event.body.data).toMatchObject({ command: '/deploy', text: 'now' });

    const challenge = JSON.stringify({ type: 'url_verification', challenge: 'abc123' });
    const answered = await post(id, await signed(slack, challenge, secret, nowSec()));
    expect(answered.status).toBe(200);
    expect(answered.body).toEqual({ challenge: 'abc123' });
  });

  it('answers 404 for an unknown or deleted source and 413 for an oversized body', async () => {
    expectNotFound(await post(randomUUID(), { body: '{}', headers: { 'content-type': 'application/json' } }));
    expectNotFound(await post('not-a-uuid', { body: '{}', headers: { 'content-type': 'application/json' } }));
    const created = await tenant.client.post('/v1/sources', { provider: 'github', name: 'gone', secret: 's' });
    const big = await post(created.body.id, { body: JSON.stringify({ x: 'y'.repeat(1_100_000) }), headers: { 'content-type': 'application/json' } });
    expect(big.status).toBe(413);
    expect((await tenant.client.delete(`/v1/sources/${created.body.id}`)).status).toBe(204);
    expectNotFound(await post(created.body.id, { body: '{}', headers: { 'content-type': 'application/json' } }));
  });

  it('validates sources: provider, secrets, generic config, reserved prefix; and isolates tenants', async () => {
    expectBadRequest(await tenant.client.post('/v1/sources', { provider: 'paypal', name: 'x', secret: 's' }), 'provider');
    expectBadRequest(await tenant.client.post('/v1/sources', { provider: 'github', name: 'x' }), 'secret');
    expectBadRequest(await tenant.client.post('/v1/sources', { provider: 'github', name: 'x', secrets: ['a', 'b', 'c'] }), 'secrets');
    expectBadRequest(await tenant.client.post('/v1/sources', { provider: 'generic_hmac', name: 'x', secret: 's' }), 'config');
    expectBadRequest(await tenant.client.post('/v1/sources', { provider: 'github', name: 'x', secret: 's', eventTypePrefix: 'hookrelay' }), 'eventTypePrefix');
    expectBadRequest(await tenant.client.post('/v1/sources', { provider: 'standard_webhooks', name: 'x', secret: 'not base64!' }), 'secrets');

    const mine = await tenant.client.post('/v1/sources', { provider: 'github', name: 'mine', secret: 's' });
    const other = await stack.createTenant('other');
    expectNotFound(await other.client.get(`/v1/sources/${mine.body.id}`));
    expectNotFound(await other.client.patch(`/v1/sources/${mine.body.id}`, { name: 'stolen' }));
    expectNotFound(await other.client.delete(`/v1/sources/${mine.body.id}`));
    expectNotFound(await other.client.post(`/v1/sources/${mine.body.id}/test`));
    expect((await other.client.get('/v1/sources')).body.data).toEqual([]);

    // Rotation: PATCH replaces the secrets; the old one stops working.
    const patched = await tenant.client.patch(`/v1/sources/${mine.body.id}`, { secrets: ['new-secret'] });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.secretCount).toBe(1);
    const body = JSON.stringify({ zen: 'hi' });
    const headers = { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': randomUUID() };
    expectUnauthorized(await post(mine.body.id, { body, headers: { ...headers, 'x-hub-signature-256': await githubSign('s', body) } }));
    const ok = await post(mine.body.id, { body, headers: { ...headers, 'x-hub-signature-256': await githubSign('new-secret', body) } });
    expect(ok.status, ok.text).toBe(200);
  });
});
