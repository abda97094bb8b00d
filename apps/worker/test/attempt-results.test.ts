import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishEvents, recordAttemptResults, type AttemptResult } from '@hookrelay/db';
import { Stack, type Tenant } from '@hookrelay/testing';

// The worker's group commit writes every finished attempt of a batch with one statement; these
// check what that statement leaves behind, against the real schema.
describe('recording a batch of attempt results', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('results');
    const res = await tenant.client.post('/v1/subscriptions', { url: 'http://127.0.0.1:9/' });
    expect(res.status, res.text).toBe(201);
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function pendingDeliveries(n: number): Promise<string[]> {
    const published = await publishEvents(
      stack.db,
      Array.from({ length: n }, (_, i) => ({ tenantId: tenant.id, input: { type: 'results.e', data: { i } } })),
    );
    return published.map((p) => p.deliveries[0]!.id);
  }

  const result = (deliveryId: string, fields: Partial<AttemptResult>): AttemptResult => ({
    deliveryId,
    tenantId: tenant.id,
    attempt: 1,
    startedAt: new Date(),
    durationMs: 12,
    statusCode: 200,
    responseBody: 'ok',
    error: null,
    status: 'succeeded',
    nextAttemptAt: null,
    ...fields,
  });

  const state = async (ids: string[]) =>
    stack.db.sql<{ id: string; status: string; attemptCount: number; lastStatusCode: number | null; lastError: string | null; attempts: number }[]>`
      select d.id, d.status, d.attempt_count as "attemptCount", d.last_status_code as "lastStatusCode", d.last_error as "lastError",
             (select count(*)::int from attempts a where a.delivery_id = d.id) as attempts
      from deliveries d where d.id = any(${ids}::uuid[]) order by array_position(${ids}::uuid[], d.id)`;

  it('writes each attempt row and moves each delivery to its outcome, in one batch', async () => {
    const [ok, retry, dead, skipped] = await pendingDeliveries(4);
    const retryAt = new Date(Date.now() + 60_000);
    await recordAttemptResults(stack.db, [
      result(ok!, {}),
      result(retry!, { status: 'pending', statusCode: 503, responseBody: 'busy', error: 'receiver answered 503', nextAttemptAt: retryAt }),
      result(dead!, { status: 'dead', statusCode: 500, error: 'receiver answered 500', deliveryError: 'gave up after 1 attempt' }),
      result(skipped!, { status: 'dead', statusCode: null, error: 'subscription was deleted', skipAttemptRow: true, attempt: 0 }),
    ]);
    expect(await state([ok!, retry!, dead!, skipped!])).toEqual([
      { id: ok, status: 'succeeded', attemptCount: 1, lastStatusCode: 200, lastError: null, attempts: 1 },
      { id: retry, status: 'pending', attemptCount: 1, lastStatusCode: 503, lastError: 'receiver answered 503', attempts: 1 },
      { id: dead, status: 'dead', attemptCount: 1, lastStatusCode: 500, lastError: 'gave up after 1 attempt', attempts: 1 },
      { id: skipped, status: 'dead', attemptCount: 0, lastStatusCode: null, lastError: 'subscription was deleted', attempts: 0 },
    ]);
    const [due] = await stack.db.sql<{ at: string }[]>`select next_attempt_at::text as at from deliveries where id = ${retry!}`;
    expect(new Date(due!.at).getTime()).toBe(retryAt.getTime());
  });

  it('never drags a finished delivery back to pending when a late duplicate run reports a failure', async () => {
    const [id] = await pendingDeliveries(1);
    await recordAttemptResults(stack.db, [result(id!, {})]);
    await recordAttemptResults(stack.db, [result(id!, { attempt: 2, status: 'pending', statusCode: 502, error: 'receiver answered 502', nextAttemptAt: new Date() })]);
    const [row] = await state([id!]);
    // The attempt itself is history and is kept; the delivery stays succeeded.
    expect(row).toMatchObject({ status: 'succeeded', attemptCount: 1, lastStatusCode: 200, attempts: 2 });
  });

  it('writes all of a batch or none of it', async () => {
    const [id] = await pendingDeliveries(1);
    const missing = '00000000-0000-7000-8000-000000000000';
    // An attempt for a delivery that does not exist breaks the attempts' foreign key: the
    // delivery update in the same statement must not land either.
    await expect(recordAttemptResults(stack.db, [result(id!, {}), result(missing, {})])).rejects.toThrow(/foreign key/);
    expect(await state([id!])).toEqual([{ id, status: 'pending', attemptCount: 0, lastStatusCode: null, lastError: null, attempts: 0 }]);
  });
});
