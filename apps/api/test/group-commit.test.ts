import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointHolds } from '@hookrelay/protection';
import { Stack, type Tenant } from '@hookrelay/testing';
import { createPublisher } from '../src/publisher.ts';
import { subscribe } from './helpers.ts';

describe('publishing in groups', () => {
  let stack: Stack;
  let a: Tenant;
  let b: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    a = await stack.createTenant('group-a');
    b = await stack.createTenant('group-b');
    await subscribe(a, { url: 'https://a.example/hook', eventTypes: ['order.*'] });
    await subscribe(a, { url: 'https://a2.example/hook' });
    await subscribe(b, { url: 'https://b.example/hook', eventTypes: ['order.created'] });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('commits publishes that arrive together in shared transactions, each answered with its own event', async () => {
    const requests = Array.from({ length: 60 }, (_, i) => ({ tenant: i % 2 === 0 ? a : b, type: i % 3 === 0 ? 'order.created' : 'user.created', i }));
    const answers = await Promise.all(requests.map((r) => r.tenant.client.post('/v1/events', { type: r.type, data: { i: r.i } })));
    const rows = await stack.db.sql<{ id: string; tenant_id: string; type: string; data: { i: number }; delivery_count: number; tx: string }[]>`
      select id, tenant_id, type, data, delivery_count, xmin::text as tx from events where tenant_id in (${a.id}, ${b.id})`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    answers.forEach((res, i) => {
      expect(res.status, res.text).toBe(202);
      const r = requests[i]!;
      const row = byId.get(res.body.id)!;
      // Each answer names the caller's own event, with the caller's own fan-out.
      expect(row).toMatchObject({ tenant_id: r.tenant.id, type: r.type, data: { i: r.i } });
      const expected = r.tenant === a ? (r.type === 'order.created' ? 2 : 1) : r.type === 'order.created' ? 1 : 0;
      expect(res.body.deliveries).toBe(expected);
      expect(row.delivery_count).toBe(expected);
    });
    expect(rows).toHaveLength(60);
    const n = (await stack.db.sql<{ n: number }[]>`
      select count(*)::int as n from deliveries d join events e on e.id = d.event_id where d.tenant_id <> e.tenant_id`)[0]!.n;
    expect(n).toBe(0);
    // Fewer transactions than events: rows written by one transaction share its xmin.
    expect(new Set(rows.map((r) => r.tx)).size).toBeLessThan(60);
  });

  it('gives a repeated idempotency key one event, within a group and across groups', async () => {
    const key = `k-${randomUUID()}`;
    const first = await Promise.all(Array.from({ length: 10 }, () => a.client.post('/v1/events', { type: 'order.paid', data: {} }, { 'Idempotency-Key': key })));
    const later = await a.client.post('/v1/events', { type: 'order.paid', data: {}, idempotencyKey: key });
    const ids = new Set([...first, later].map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect([...first, later].filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(10);
    const n = (await stack.db.sql<{ n: number }[]>`select count(*)::int as n from events where tenant_id = ${a.id} and idempotency_key = ${key}`)[0]!.n;
    expect(n).toBe(1);
  });

  it('fails only the publish that cannot be stored, not the others committed with it', async () => {
    const publisher = createPublisher(stack.db, { queues: stack.queues, holds: new EndpointHolds() }, pino({ level: 'silent' }));
    const ghost = randomUUID(); // no such tenant: its event breaks the foreign key
    const outcomes = await Promise.allSettled([
      publisher.publish(a.id, { type: 'order.created', data: { n: 1 } }),
      publisher.publish(ghost, { type: 'order.created', data: { n: 2 } }),
      publisher.publish(b.id, { type: 'order.created', data: { n: 3 } }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const ok = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value.event.id);
    const n = (await stack.db.sql<{ n: number }[]>`select count(*)::int as n from events where id in ${stack.db.sql(ok)}`)[0]!.n;
    expect(n).toBe(2);
  });
});
