import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient, deleteRedisKeys, eventually, startReceiver, TEST_ENV, TEST_REDIS_URL } from '@hookrelay/testing';

// What `pnpm start` runs: the bundle the test run's global set-up built.
const LAUNCHER = fileURLToPath(new URL('../../../dist/launcher.js', import.meta.url));
const SERVER = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';

describe('pnpm start', () => {
  const database = `hookrelay_test_launcher_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const prefix = `hrtest-${randomBytes(5).toString('hex')}`;
  const admin = postgres(`${SERVER}/postgres`, { max: 1, onnotice: () => {} });

  afterAll(async () => {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
    await deleteRedisKeys(prefix);
  });

  it('creates the database, starts the API and a worker, and stops both on SIGTERM', async () => {
    const [before] = await admin`select count(*)::int as n from pg_database where datname = ${database}`;
    expect(before!.n).toBe(0);

    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const adminToken = `launcher-test-${randomBytes(8).toString('hex')}`;
    const child = spawn(process.execPath, [LAUNCHER], {
      env: {
        ...process.env,
        ...TEST_ENV,
        DATABASE_URL: `${SERVER}/${database}`,
        REDIS_URL: TEST_REDIS_URL,
        HOOKRELAY_REDIS_PREFIX: prefix,
        ADMIN_TOKEN: adminToken,
        PORT: String(port),
        HOST: '127.0.0.1',
      },
      stdio: 'ignore',
    });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const receiver = await startReceiver();
    try {
      const api = new ApiClient(`http://127.0.0.1:${port}`, adminToken);
      await eventually(() => api.get('/readyz').then((r) => r.status === 200, () => false), 25_000, 200);
      const [after] = await admin`select count(*)::int as n from pg_database where datname = ${database}`;
      expect(after!.n).toBe(1);

      const tenant = await api.post('/admin/tenants', { name: 'launcher' });
      const client = api.withToken(tenant.body.apiKey);
      await client.post('/v1/subscriptions', { url: receiver.url });
      const event = await client.post('/v1/events', { type: 'launcher.check', data: { ok: true } });
      const [req] = await receiver.waitFor(1, 15_000);
      expect(req!.headers['webhook-id']).toBe(event.body.id);

      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      await expect(api.get('/healthz')).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
      await receiver.close();
    }
  });
});
