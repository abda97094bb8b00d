import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { deliveriesOf, publish, settled, subscribe } from './helpers.ts';

const MiB = 1024 * 1024;
const uniqueType = () => `hostile.${Math.random().toString(36).slice(2)}`;

/** Subscribes `url` with no retries, publishes one event and waits for the delivery to reach `status`. */
async function deliverOnce(stack: Stack, tenant: Tenant, url: string, status: 'succeeded' | 'dead') {
  const type = uniqueType();
  await subscribe(tenant, { url, eventTypes: [type], retryPolicy: { schedule: [] } });
  const event = await publish(tenant, type, { hostile: true });
  const [summary] = await deliveriesOf(tenant, event.id);
  return settled(stack, tenant, summary!.id, status);
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('receivers that misbehave', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    // Private networks allowed (the test default), so receivers on 127.0.0.1 are reachable.
    stack = await Stack.start({ workers: 1 });
    tenant = await stack.createTenant();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('does not follow a redirect to an internal address', async () => {
    const internal = await startReceiver();
    const redirector = await startReceiver((_req, res) => {
      res.writeHead(302, { location: `${internal.url}/admin` });
      res.end('moved');
    });
    try {
      const dead = await deliverOnce(stack, tenant, `${redirector.url}/hook`, 'dead');
      expect(redirector.requests).toHaveLength(1);
      expect(dead.attempts).toHaveLength(1);
      expect(dead.attempts[0]).toMatchObject({ statusCode: 302, responseBody: 'moved' });
      // Give a (wrongly) followed redirect time to land before checking it did not.
      await new Promise((r) => setTimeout(r, 300));
      expect(internal.requests).toHaveLength(0);
    } finally {
      await redirector.close();
      await internal.close();
    }
  });

  it('times out a receiver that accepts the connection and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      // Reads the request and never writes a byte back.
      socket.resume();
    });
    const port = await listen(silent);
    try {
      const dead = await deliverOnce(stack, tenant, `http://127.0.0.1:${port}/`, 'dead');
      expect(dead.attempts).toHaveLength(1);
      const [attempt] = dead.attempts;
      expect(attempt!.statusCode).toBeNull();
      expect(attempt!.responseBody).toBeNull();
      expect(attempt!.error).toBe('timed out after 2000 ms');
      expect(attempt!.durationMs).toBeGreaterThanOrEqual(1900);
      expect(attempt!.durationMs).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('keeps 4 KiB of a huge answer and drops the connection instead of reading it all', async () => {
    const chunk = Buffer.alloc(MiB, 'x');
    let bytesWritten = 0;
    let startedAt = 0;
    let closedAt = 0;
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    const server = createHttpServer((req, res) => {
      req.resume();
      res.on('close', () => {
        closedAt = Date.now();
        markClosed();
      });
      res.writeHead(200, { 'content-type': 'text/plain' });
      startedAt = Date.now();
      void (async () => {
        // 1 MiB at a time up to 1 GiB, waiting for the client to take each one, until the socket closes.
        while (bytesWritten < 1024 * MiB && !res.destroyed) {
          bytesWritten += chunk.length;
          if (!res.write(chunk)) {
            await new Promise<void>((resume) => {
              const next = () => {
                res.off('drain', next);
                res.off('close', next);
                resume();
              };
              res.on('drain', next);
              res.on('close', next);
            });
          }
        }
        if (!res.destroyed) res.end();
      })();
    });
    const port = await listen(server);
    try {
      const before = Date.now();
      const done = await deliverOnce(stack, tenant, `http://127.0.0.1:${port}/`, 'succeeded');
      expect(Date.now() - before).toBeLessThan(10_000);
      expect(done.attempts).toHaveLength(1);
      const [attempt] = done.attempts;
      expect(attempt!.statusCode).toBe(200);
      expect(attempt!.error).toBeNull();
      expect(attempt!.responseBody).toBe('x'.repeat(4096));

      await Promise.race([
        closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`connection still open after ${bytesWritten} bytes`)), 5_000)),
      ]);
      expect(closedAt - startedAt).toBeLessThan(5_000);
      expect(bytesWritten).toBeLessThan(64 * MiB);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('deliveries to ports outside HOOKRELAY_ALLOWED_PORTS', () => {
  let stack: Stack;
  let tenant: Tenant;
  let allowed: Receiver;
  let other: Receiver;

  beforeAll(async () => {
    allowed = await startReceiver();
    other = await startReceiver();
    stack = await Stack.start({ workers: 1, env: { HOOKRELAY_ALLOWED_PORTS: `443, ${new URL(allowed.url).port}` } });
    tenant = await stack.createTenant();
  });
  afterAll(async () => {
    await allowed?.close();
    await other?.close();
    await stack?.close();
  });

  it('delivers to an allowed port', async () => {
    const done = await deliverOnce(stack, tenant, `${allowed.url}/hook`, 'succeeded');
    expect(done.attempts[0]).toMatchObject({ statusCode: 200, error: null });
    expect(allowed.requests).toHaveLength(1);
  });

  it('refuses any other port as a failed attempt with a clear error, sending nothing', async () => {
    const port = new URL(other.url).port;
    const dead = await deliverOnce(stack, tenant, `${other.url}/hook`, 'dead');
    expect(dead.attempts).toHaveLength(1);
    expect(dead.attempts[0]!.statusCode).toBeNull();
    expect(dead.attempts[0]!.error).toBe(`EFORBIDDENPORT: refused to connect to 127.0.0.1: port ${port} is not in HOOKRELAY_ALLOWED_PORTS`);
    expect(other.requests).toHaveLength(0);
  });

  it('counts a URL without a port as its scheme default', async () => {
    const dead = await deliverOnce(stack, tenant, 'http://127.0.0.1/hook', 'dead');
    expect(dead.attempts[0]!.error).toMatch(/port 80 is not in HOOKRELAY_ALLOWED_PORTS/);
  });
});
