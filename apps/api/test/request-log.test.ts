import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '@hookrelay/api';
import { loggerOptions } from '@hookrelay/config';
import { Stack, type Tenant } from '@hookrelay/testing';

describe('request log', () => {
  let stack: Stack;
  let tenant: Tenant;
  let app: Awaited<ReturnType<typeof buildApp>>;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('logged');
    // The production logger's options (redaction included), writing to memory.
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...chunk.toString().trim().split('\n').map((l: string) => JSON.parse(l)));
        done();
      },
    });
    app = await buildApp({
      db: stack.db,
      queues: stack.queues,
      redis: stack.redis,
      redisPrefix: stack.config.HOOKRELAY_REDIS_PREFIX,
      adminToken: stack.config.ADMIN_TOKEN,
      logger: pino({ ...loggerOptions({ LOG_LEVEL: 'info', NODE_ENV: 'test' }, 'api') }, sink),
    });
  });
  afterAll(async () => {
    await app?.close();
    await stack?.close();
  });

  const linesOf = (reqId: string) => lines.filter((l) => l.reqId === reqId);

  it('is one line per request, naming the tenant it was authenticated as, without the key', async () => {
    const headers = { authorization: `Bearer ${tenant.apiKey}`, 'x-request-id': 'req-tenant-1' };
    const res = await app.inject({ method: 'POST', url: '/v1/events', headers, payload: { type: 'order.paid', data: { n: 1 } } });
    expect(res.statusCode).toBe(202);

    const [line, ...more] = linesOf('req-tenant-1');
    expect(more).toEqual([]);
    expect(line).toMatchObject({ msg: 'request completed', tenantId: tenant.id, method: 'POST', url: '/v1/events', statusCode: 202 });
    expect(JSON.stringify(line)).not.toContain(tenant.apiKey);
  });

  it('names no tenant for a request that was not authenticated, nor the previous request’s', async () => {
    const other = await stack.createTenant('logged-2');
    for (const [reqId, key] of [['req-a', tenant.apiKey], ['req-none', 'hr_not_a_key'], ['req-b', other.apiKey]] as const) {
      await app.inject({ method: 'GET', url: '/v1/subscriptions', headers: { authorization: `Bearer ${key}`, 'x-request-id': reqId } });
    }
    expect(linesOf('req-a')[0]).toMatchObject({ tenantId: tenant.id, statusCode: 200 });
    expect(linesOf('req-none')[0]).toMatchObject({ statusCode: 401 });
    expect(linesOf('req-none')[0]).not.toHaveProperty('tenantId');
    expect(linesOf('req-b')[0]).toMatchObject({ tenantId: other.id, statusCode: 200 });
  });

  it('redacts credentials on every line but the access line, which carries none', async () => {
    app.log.info({ subscription: { secret: 'whsec_not_for_logs' } }, 'app line');
    const headers = { authorization: `Bearer ${tenant.apiKey}`, 'x-request-id': 'req-bad', 'content-type': 'application/json' };
    const failing = await app.inject({ method: 'POST', url: '/v1/events', headers, payload: '{' });
    expect(failing.statusCode).toBe(400);
    const appLine = lines.find((l) => l.msg === 'app line');
    expect(appLine).toMatchObject({ subscription: { secret: '[redacted]' } });
    expect(JSON.stringify(lines)).not.toContain('whsec_not_for_logs');
    expect(linesOf('req-bad')).toEqual([expect.objectContaining({ msg: 'request completed', statusCode: 400, tenantId: tenant.id })]);
  });
});
