import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookSender, type WebhookSender } from '../src/http/send-webhook.ts';

const request = (url: string) => ({ url, headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}' });

describe('webhook sender', () => {
  let server: Server;
  let url: string;
  const open = new Set<ServerResponse>();
  let handler: (res: ServerResponse) => void = () => {};
  let sender: WebhookSender;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      open.add(res);
      res.on('close', () => open.delete(res));
      handler(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    sender = createWebhookSender({ timeoutMs: 1_000, allowPrivateNetworks: true });
  });
  afterEach(() => {
    for (const res of open) res.destroy();
  });
  afterAll(async () => {
    await sender.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('ends an attempt at its deadline even while the receiver keeps dripping its answer', async () => {
    // Headers at once, then a byte every 200 ms: each gap is well inside the idle timeouts.
    handler = (res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write('x')), 200);
      res.on('close', () => clearInterval(drip));
    };
    const result = await sender.send(request(url));
    expect(result.statusCode).toBeNull();
    expect(result.error).toBe('timed out after 1000 ms');
    expect(result.durationMs).toBeGreaterThanOrEqual(950);
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('aborts every attempt a cancelled job has under way, as an error rather than an attempt result', async () => {
    const held: ServerResponse[] = [];
    handler = (res) => held.push(res); // never answers
    const job = new AbortController();
    const sends = [sender.send(request(url), job.signal), sender.send(request(url), job.signal)];
    await expect.poll(() => held.length).toBe(2);
    const startedAt = Date.now();
    job.abort(new Error('shutdown'));
    const results = await Promise.allSettled(sends);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(Date.now() - startedAt).toBeLessThan(500);
    // Both requests were cut off at the receiver too.
    await expect.poll(() => held.filter((res) => res.closed).length).toBe(2);
    // A signal already aborted sends nothing.
    await expect(sender.send(request(url), job.signal)).rejects.toThrow();
  });

  it('waits past an informational answer for the final one', async () => {
    handler = (res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('final');
      }, 50);
    };
    const result = await sender.send(request(url));
    expect(result).toMatchObject({ statusCode: 200, responseBody: 'final', error: null });
  });

  it('answers what the receiver said when nothing cuts the attempt short', async () => {
    handler = (res) => {
      res.writeHead(201, { 'content-type': 'text/plain', 'retry-after': '3' });
      res.end('made');
    };
    const job = new AbortController();
    const result = await sender.send(request(url), job.signal);
    expect(result).toMatchObject({ statusCode: 201, responseBody: 'made', error: null, retryAfter: '3' });
  });
});
