import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, eventually, startReceiver, type Receiver } from '@hookrelay/testing';

const BIN = fileURLToPath(new URL('../bin/hookrelay.mjs', import.meta.url));

describe('pnpm hookrelay', () => {
  let stack: Stack;
  let receiver: Receiver;

  /** Runs the CLI as an operator would, with the stack's environment. */
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...stack.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    stack = await Stack.start({ workers: 1 });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('creates a tenant whose printed key works, lists tenants and subscriptions, sends a test event', async () => {
    const created = await cli('tenants:create', 'cli-tenant');
    expect(created.code, created.stderr).toBe(0);
    const tenantId = /tenant\s+([0-9a-f-]{36})/.exec(created.stdout)![1]!;
    const apiKey = /apiKey\s+(\S+)/.exec(created.stdout)![1]!;
    const client = stack.anonymous.withToken(apiKey);
    const sub = await client.post('/v1/subscriptions', { url: receiver.url, eventTypes: ['cli.*'] });
    expect(sub.status).toBe(201);

    const tenants = await cli('tenants:list');
    expect(tenants.stdout).toContain(tenantId);
    expect(tenants.stdout).toContain('cli-tenant');

    const subs = await cli('subscriptions:list', tenantId);
    expect(subs.code, subs.stderr).toBe(0);
    expect(subs.stdout).toMatch(new RegExp(`${sub.body.id}\\s+${receiver.url.replace(/[.]/g, '\\.')}\\s+yes\\s+closed`));

    const sent = await cli('events:send', tenantId, 'cli.ping', '{"hello":"world"}');
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/fanned out to 1 subscription/);
    const [req] = await receiver.waitFor(1);
    expect(JSON.parse(req!.body)).toMatchObject({ type: 'cli.ping', data: { hello: 'world' } });
  });

  it('replays the dead deliveries of a subscription with progress, and shows queue depths', async () => {
    const tenant = await stack.createTenant('replay');
    const down = await startReceiver((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    try {
      const sub = await tenant.client.post('/v1/subscriptions', { url: down.url, retryPolicy: { schedule: [] } });
      for (let i = 0; i < 3; i++) await tenant.client.post('/v1/events', { type: 'replay.me', data: { i } });
      await eventually(async () => (await tenant.client.get(`/v1/deliveries?status=dead&subscriptionId=${sub.body.id}`)).body.data.length === 3);

      // Dead letters rest in the dead-letter queue's failed set.
      await eventually(async () => {
        const depths = await cli('queues');
        expect(depths.code, depths.stderr).toBe(0);
        return /dead-letters\s+0\s+0\s+0\s+3/.test(depths.stdout);
      }, 20_000, 200);

      down.respond((_req, res) => {
        res.writeHead(200);
        res.end();
      });
      const replay = await cli('replay', sub.body.id);
      expect(replay.code, replay.stderr).toBe(0);
      expect(replay.stdout).toMatch(/replayed 3…/);
      expect(replay.stdout).toMatch(/done: 3 dead deliveries replayed/);
      await eventually(async () => (await tenant.client.get(`/v1/deliveries?status=succeeded&subscriptionId=${sub.body.id}`)).body.data.length === 3);
      const again = await cli('replay', sub.body.id);
      expect(again.stdout).toMatch(/done: 0 dead deliveries replayed/);
    } finally {
      await down.close();
    }
  });

  it('explains its usage, and refuses bad input with a clear message', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/tenants:create/);
    const bad = await cli('events:send', '00000000-0000-4000-8000-000000000000', 'x.y');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no tenant/);
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
  });
});
