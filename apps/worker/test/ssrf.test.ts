import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { deliveriesOf, publish, settled, subscribe } from './helpers.ts';

describe('deliveries to private networks when they are not allowed', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 1, env: { HOOKRELAY_ALLOW_PRIVATE_NETWORKS: 'false' } });
    tenant = await stack.createTenant();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  const port = () => new URL(receiver.url).port;

  it.each([
    ['an IPv4 loopback literal', () => `http://127.0.0.1:${port()}/`],
    ['a decimal IPv4 spelling', () => `http://2130706433:${port()}/`],
    ['an IPv4-mapped IPv6 literal', () => `http://[::ffff:127.0.0.1]:${port()}/`],
    ['a name that resolves to loopback', () => `http://localhost:${port()}/`],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
    ['an octal IPv4 spelling', () => `http://0177.0.0.1:${port()}/`],
    ['a hexadecimal IPv4 spelling', () => `http://0x7f.0.0.1:${port()}/`],
    ['a short IPv4 spelling', () => `http://127.1:${port()}/`],
    ['the IPv6 loopback literal', () => `http://[::1]:${port()}/`],
    ['an IPv4-mapped IPv6 literal in hex', () => `http://[::ffff:7f00:1]:${port()}/`],
    ['the unspecified address', () => `http://0.0.0.0:${port()}/`],
    ['the IPv6 cloud metadata address', () => 'http://[fd00:ec2::254]/'],
  ])('refuses %s as a failed attempt with a clear error', async (_name, url) => {
    const type = `ssrf.${Math.random().toString(36).slice(2)}`;
    await subscribe(tenant, { url: url(), eventTypes: [type], retryPolicy: { schedule: [] } });
    const event = await publish(tenant, type, {});
    const [summary] = await deliveriesOf(tenant, event.id);
    const dead = await settled(stack, tenant, summary!.id, 'dead');
    expect(dead.attempts).toHaveLength(1);
    expect(dead.attempts[0]!.statusCode).toBeNull();
    expect(dead.attempts[0]!.error).toMatch(/refused to connect .* HOOKRELAY_ALLOW_PRIVATE_NETWORKS/);
    expect(receiver.requests).toHaveLength(0);
  });
});
