import { createHmac } from 'node:crypto';
import { expect, it } from 'vitest';
import type { GenericHmacConfig, InboundCall, ProviderAdapter, RejectReason, SignedSample, Verification } from '../../src/inbound/index.ts';

/** A fixed receive time, so timestamp windows are exact. */
export const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
export const NOW_SECONDS = Math.floor(NOW / 1000);

type Headers = Record<string, string | undefined>;

export function callOf(body: string | Buffer, headers: Headers, nowMs = NOW): InboundCall {
  return { rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), headers, nowMs };
}

export function sampleCall(sample: SignedSample, nowMs: number): InboundCall {
  return callOf(sample.body, { ...sample.headers, 'content-type': sample.contentType }, nowMs);
}

export function expectRejected(verification: Verification, reason: RejectReason): void {
  expect(verification).toMatchObject({ ok: false, reason });
}

export function hmacOf(algorithm: 'sha256' | 'sha512', key: string | Buffer, data: string, encoding: 'hex' | 'base64'): string {
  return createHmac(algorithm, key).update(data).digest(encoding);
}

export function without(headers: Headers, name: string): Headers {
  const copy = { ...headers };
  delete copy[name];
  return copy;
}

export interface ContractOptions {
  adapter: ProviderAdapter;
  config?: GenericHmacConfig;
  secret: string;
  otherSecret: string;
  /** A realistic body for this provider. */
  body: string;
  /** The provider's headers for `body` at `nowMs`, computed without the adapter (a peer library or node:crypto). */
  sign(secret: string, body: string, nowMs: number): Headers | Promise<Headers>;
  /** The signature header, removed for the missing-signature case. */
  signatureHeader: string;
  /** A well-formed signature header that no secret produced. */
  forged: string;
  /** A change to `body` that keeps it valid JSON. */
  tamper(body: string): string;
}

/** The checks every provider must pass; each provider's file adds its own on top. */
export function signatureContract(o: ContractOptions): void {
  const verify = (call: InboundCall, secrets: readonly string[]) => o.adapter.verify(call, secrets, o.config);

  it('accepts a call signed with the secret', async () => {
    const headers = await o.sign(o.secret, o.body, NOW);
    expect(verify(callOf(o.body, headers), [o.secret])).toEqual({ ok: true });
  });

  it('rejects a well-formed signature that no secret produced', async () => {
    const headers = { ...(await o.sign(o.secret, o.body, NOW)), [o.signatureHeader]: o.forged };
    expectRejected(verify(callOf(o.body, headers), [o.secret]), 'invalid_signature');
  });

  it('rejects a tampered body', async () => {
    const headers = await o.sign(o.secret, o.body, NOW);
    const tampered = o.tamper(o.body);
    expect(tampered).not.toBe(o.body);
    expectRejected(verify(callOf(tampered, headers), [o.secret]), 'invalid_signature');
  });

  it('rejects a call signed with a different secret', async () => {
    const headers = await o.sign(o.otherSecret, o.body, NOW);
    expectRejected(verify(callOf(o.body, headers), [o.secret]), 'invalid_signature');
  });

  it('accepts a call signed with either of two secrets (rotation)', async () => {
    const byOther = await o.sign(o.otherSecret, o.body, NOW);
    const bySecret = await o.sign(o.secret, o.body, NOW);
    expect(verify(callOf(o.body, byOther), [o.secret, o.otherSecret])).toEqual({ ok: true });
    expect(verify(callOf(o.body, bySecret), [o.secret, o.otherSecret])).toEqual({ ok: true });
    expectRejected(verify(callOf(o.body, byOther), [o.secret, 'a-third-secret-entirely']), 'invalid_signature');
  });

  it('answers missing_signature without the signature header', async () => {
    const headers = without(await o.sign(o.secret, o.body, NOW), o.signatureHeader);
    const verdict = verify(callOf(o.body, headers), [o.secret]);
    expectRejected(verdict, 'missing_signature');
    expect(verdict.ok || verdict.message).toContain(o.signatureHeader);
  });

  it('treats a blank signature header as missing', async () => {
    const headers = { ...(await o.sign(o.secret, o.body, NOW)), [o.signatureHeader]: '  ' };
    expectRejected(verify(callOf(o.body, headers), [o.secret]), 'missing_signature');
  });

  it('answers malformed_signature for a header it cannot read', async () => {
    const headers = { ...(await o.sign(o.secret, o.body, NOW)), [o.signatureHeader]: 'not a signature at all!' };
    expectRejected(verify(callOf(o.body, headers), [o.secret]), 'malformed_signature');
  });

  it('accepts nothing when the source has no usable secret', async () => {
    const headers = await o.sign(o.secret, o.body, NOW);
    expectRejected(verify(callOf(o.body, headers), []), 'invalid_signature');
    expectRejected(verify(callOf(o.body, headers), ['']), 'invalid_signature');
  });

  it('never puts the secret or the expected signature in a rejection message', async () => {
    const good = await o.sign(o.secret, o.body, NOW);
    const expected = good[o.signatureHeader]!;
    const calls = [
      callOf(o.tamper(o.body), good),
      callOf(o.body, { ...good, [o.signatureHeader]: o.forged }),
      callOf(o.body, await o.sign(o.otherSecret, o.body, NOW)),
    ];
    for (const call of calls) {
      const verdict = verify(call, [o.secret]);
      expect(verdict.ok).toBe(false);
      if (verdict.ok) continue;
      expect(verdict.message.length).toBeGreaterThan(0);
      expect(verdict.message).not.toContain(o.secret);
      expect(verdict.message).not.toContain(expected);
      expect(verdict.message).not.toContain(expected.slice(-20));
    }
  });

  it('signs a sample that it then accepts, and only under that secret', () => {
    const sample = o.adapter.signedSample(o.secret, NOW, o.config);
    expect(sample.contentType).toMatch(/^application\/json/);
    expect(sample.headers['content-type']).toBe(sample.contentType);
    expect(sample.headers[o.signatureHeader]).toBeDefined();
    expect(verify(sampleCall(sample, NOW), [o.secret])).toEqual({ ok: true });
    expect(verify(sampleCall(sample, NOW), [o.otherSecret, o.secret])).toEqual({ ok: true });
    expectRejected(verify(sampleCall(sample, NOW), [o.otherSecret]), 'invalid_signature');
    expect(o.adapter.parseBody(sampleCall(sample, NOW))).toEqual(JSON.parse(sample.body));
  });

  it('gives every sample its own ids', () => {
    const a = o.adapter.signedSample(o.secret, NOW, o.config);
    const b = o.adapter.signedSample(o.secret, NOW, o.config);
    expect(a.body).not.toBe(b.body);
    const da = o.adapter.describe(sampleCall(a, NOW), o.adapter.parseBody(sampleCall(a, NOW)), o.config);
    const db = o.adapter.describe(sampleCall(b, NOW), o.adapter.parseBody(sampleCall(b, NOW)), o.config);
    expect(da.eventType).toBeTruthy();
    expect(da.eventType).toBe(db.eventType);
    expect(da.dedupKey).toBeTruthy();
    expect(db.dedupKey).toBeTruthy();
    expect(da.dedupKey).not.toBe(db.dedupKey);
  });

  it('refuses an empty or non-JSON body when parsing', () => {
    expect(() => o.adapter.parseBody(callOf('', { 'content-type': 'application/json' }))).toThrow();
    expect(() => o.adapter.parseBody(callOf('{"id":', { 'content-type': 'application/json' }))).toThrow();
  });
}
