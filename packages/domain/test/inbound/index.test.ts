import { describe, expect, it } from 'vitest';
import * as domain from '../../src/index.ts';
import { EVENT_TYPE_REGEX } from '../../src/event-types.ts';
import { PROVIDERS, PROVIDER_NAMES, normalizeEventType } from '../../src/inbound/index.ts';
import { NOW, callOf, sampleCall } from './helpers.ts';

describe('PROVIDERS', () => {
  it('has one adapter per provider name, each under its own name', () => {
    expect(Object.keys(PROVIDERS).sort()).toEqual([...PROVIDER_NAMES].sort());
    for (const name of PROVIDER_NAMES) expect(PROVIDERS[name].name).toBe(name);
  });

  it('is exported from the package root', () => {
    expect(domain.PROVIDERS).toBe(PROVIDERS);
    expect(domain.normalizeEventType).toBe(normalizeEventType);
  });

  it("rejects every provider's sample under another provider's scheme", () => {
    const config = { header: 'x-signature', algorithm: 'sha256', encoding: 'hex' } as const;
    const secret = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    for (const from of PROVIDER_NAMES) {
      const sample = PROVIDERS[from].signedSample(secret, NOW, config);
      for (const to of PROVIDER_NAMES) {
        const verdict = PROVIDERS[to].verify(sampleCall(sample, NOW), [secret], config);
        expect({ from, to, ok: verdict.ok }).toEqual({ from, to, ok: from === to });
      }
    }
  });

  it('answers missing_signature, not a throw, for a bare call to any provider', () => {
    for (const name of PROVIDER_NAMES) {
      const verdict = PROVIDERS[name].verify(callOf('{}', {}), ['secret'], { header: 'x-signature', algorithm: 'sha256', encoding: 'hex' });
      expect({ name, verdict }).toMatchObject({ name, verdict: { ok: false, reason: 'missing_signature' } });
    }
  });

  it('keeps no signature header in sourceHeaders for any sample', () => {
    const config = { header: 'x-signature', algorithm: 'sha256', encoding: 'hex', idHeader: 'x-id' } as const;
    const secret = `whsec_${Buffer.alloc(32, 4).toString('base64')}`;
    for (const name of PROVIDER_NAMES) {
      const sample = PROVIDERS[name].signedSample(secret, NOW, config);
      const call = sampleCall(sample, NOW);
      const kept = PROVIDERS[name].describe(call, PROVIDERS[name].parseBody(call), config).sourceHeaders;
      for (const header of Object.keys(kept)) expect({ name, header }).not.toMatchObject({ header: expect.stringMatching(/signature|hmac|verif-hash/) });
      expect(Object.values(kept).join(' ')).not.toContain(secret);
    }
  });
});

describe('normalizeEventType', () => {
  it("maps Shopify's topic separators to dots", () => {
    expect(normalizeEventType('orders/create')).toBe('orders.create');
    expect(normalizeEventType('app_subscriptions/update')).toBe('app_subscriptions.update');
  });

  it('keeps types already in the alphabet as they are', () => {
    expect(normalizeEventType('payment_intent.succeeded')).toBe('payment_intent.succeeded');
    expect(normalizeEventType('net.authorize.payment.authcapture.created')).toBe('net.authorize.payment.authcapture.created');
    expect(normalizeEventType('Charge-Completed_v2')).toBe('Charge-Completed_v2');
  });

  it('replaces other characters with dots, collapses runs and trims them', () => {
    expect(normalizeEventType('Order Shipped')).toBe('Order.Shipped');
    expect(normalizeEventType('a//b  c')).toBe('a.b.c');
    expect(normalizeEventType('..a...b..')).toBe('a.b');
    expect(normalizeEventType('/webhook-collect')).toBe('webhook-collect');
    expect(normalizeEventType('café:crème')).toBe('caf.cr.me');
    expect(normalizeEventType('rocket🚀launch')).toBe('rocket.launch');
  });

  it('falls back to unknown when nothing is left', () => {
    expect(normalizeEventType(null)).toBe('unknown');
    expect(normalizeEventType('')).toBe('unknown');
    expect(normalizeEventType('///')).toBe('unknown');
    expect(normalizeEventType(null, 'shop')).toBe('shop.unknown');
  });

  it('prepends the prefix and a dot', () => {
    expect(normalizeEventType('orders/create', 'shop')).toBe('shop.orders.create');
    expect(normalizeEventType('push', 'gh.acme')).toBe('gh.acme.push');
    expect(normalizeEventType('push', null)).toBe('push');
    expect(normalizeEventType('push', '')).toBe('push');
    expect(normalizeEventType('push', 'gh.')).toBe('gh.push');
  });

  it('caps the result at 255 characters, never ending on a dot', () => {
    expect(normalizeEventType('a'.repeat(300))).toBe('a'.repeat(255));
    expect(normalizeEventType('b'.repeat(300), 'pre')).toBe(`pre.${'b'.repeat(251)}`);
    const cutAtDot = normalizeEventType(`${'c'.repeat(254)}.d`);
    expect(cutAtDot).toBe('c'.repeat(254));
  });

  it('always produces a valid event type', () => {
    const inputs = ['orders/create', '', null, ' ', 'x'.repeat(1000), '🚀', '-a-', `${'y'.repeat(254)}/z`, 'hookrelay?x'];
    for (const raw of inputs) {
      for (const prefix of [undefined, null, 'src', 'a'.repeat(100)]) {
        expect(normalizeEventType(raw, prefix)).toMatch(EVENT_TYPE_REGEX);
      }
    }
  });
});
