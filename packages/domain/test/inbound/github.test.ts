import { describe, expect, it } from 'vitest';
import { sign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { PROVIDERS } from '../../src/inbound/index.ts';
import { NOW, callOf, expectRejected, sampleCall, signatureContract } from './helpers.ts';

const githubProvider = PROVIDERS.github;
const secret = 'gh-webhook-secret-4f2a9c';
const otherSecret = 'gh-webhook-secret-rotated-7d1e';
const body = JSON.stringify({
  action: 'opened',
  number: 42,
  pull_request: { id: 1_888_999, title: 'Retry with jitter — naïve approach', state: 'open' },
  repository: { id: 1_296_269, full_name: 'octocat/hello-world' },
  sender: { login: 'octocat' },
});
const deliveryHeaders = {
  'content-type': 'application/json',
  'x-github-event': 'pull_request',
  'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  'x-github-hook-id': '292430182',
  'x-github-hook-installation-target-type': 'repository',
  'user-agent': 'GitHub-Hookshot/044aadd',
};

describe('github', () => {
  signatureContract({
    adapter: githubProvider,
    secret,
    otherSecret,
    body,
    // Octokit's own signer, the library GitHub maintains.
    sign: async (s, payload) => ({ ...deliveryHeaders, 'x-hub-signature-256': await sign(s, payload) }),
    signatureHeader: 'x-hub-signature-256',
    forged: `sha256=${'0f'.repeat(32)}`,
    tamper: (b) => b.replace('"number":42', '"number":43'),
  });

  it("verifies GitHub's documented test vector", () => {
    const call = callOf('Hello, World!', {
      'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    });
    expect(githubProvider.verify(call, ["It's a Secret to Everybody"])).toEqual({ ok: true });
    expectRejected(githubProvider.verify(call, ["It's a secret to everybody"]), 'invalid_signature');
  });

  it('needs the sha256= prefix and 64 hex digits', () => {
    const hex = '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    for (const bad of [hex, `sha1=${hex}`, `SHA256=${hex}`, `sha256=${hex.slice(1)}`, `sha256=${hex}00`]) {
      expectRejected(githubProvider.verify(callOf('Hello, World!', { 'x-hub-signature-256': bad }), ["It's a Secret to Everybody"]), 'malformed_signature');
    }
  });

  it('does not fall back to the legacy SHA-1 x-hub-signature', () => {
    const verdict = githubProvider.verify(
      callOf('Hello, World!', { 'x-hub-signature': 'sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59' }),
      ["It's a Secret to Everybody"],
    );
    expectRejected(verdict, 'missing_signature');
    expect(verdict.ok || verdict.message).toContain('SHA-1');
  });

  it('takes the type from x-github-event even when the body has an action, and dedupes on the delivery id', async () => {
    const headers = { ...deliveryHeaders, 'x-hub-signature-256': await sign(secret, body) };
    const call = callOf(body, headers);
    expect(githubProvider.describe(call, githubProvider.parseBody(call))).toEqual({
      eventType: 'pull_request',
      dedupKey: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      sourceHeaders: {
        'x-github-event': 'pull_request',
        'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
        'x-github-hook-id': '292430182',
      },
    });
  });

  it('describes a call without GitHub headers as typeless and not de-duplicable', () => {
    expect(githubProvider.describe(callOf(body, {}), JSON.parse(body))).toEqual({ eventType: null, dedupKey: null, sourceHeaders: {} });
  });

  it('signs a push sample that octokit verifies, with the delivery headers GitHub sends', async () => {
    const sample = githubProvider.signedSample(secret, NOW);
    expect(sample.headers['x-github-event']).toBe('push');
    expect(sample.headers['x-github-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    expect(await octokitVerify(secret, sample.body, sample.headers['x-hub-signature-256']!)).toBe(true);
    expect(await octokitVerify(otherSecret, sample.body, sample.headers['x-hub-signature-256']!)).toBe(false);
    const call = sampleCall(sample, NOW);
    expect(githubProvider.describe(call, githubProvider.parseBody(call)).dedupKey).toBe(sample.headers['x-github-delivery']);
  });
});
