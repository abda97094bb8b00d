import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDb,
  getSource,
  getSubscription,
  loadSubscriptionsForDelivery,
  updateSubscription,
  type Db,
} from '@hookrelay/db';
import { encryptionKeyId } from '@hookrelay/domain';
import { Stack, eventually, startReceiver, type Receiver, type ReceivedRequest, type Tenant } from '@hookrelay/testing';
import { startWorker } from '../src/index.ts';
import { publish, subscribe } from './helpers.ts';

const CLI = fileURLToPath(new URL('../../cli/bin/hookrelay.mjs', import.meta.url));
const newSecret = () => 'whsec_' + randomBytes(32).toString('base64');
const HOUR_MS = 60 * 60_000;

const signatureHeaders = (req: ReceivedRequest) => ({
  'webhook-id': req.headers['webhook-id'] as string,
  'webhook-timestamp': req.headers['webhook-timestamp'] as string,
  'webhook-signature': req.headers['webhook-signature'] as string,
});

/** Whether the standardwebhooks reference verifier accepts the request with `secret`. */
function verifies(secret: string, req: ReceivedRequest): boolean {
  try {
    new Webhook(secret).verify(req.body, signatureHeaders(req));
    return true;
  } catch {
    return false;
  }
}

/** The request the receiver got for one event. */
const deliveryOf = (receiver: Receiver, eventId: string) =>
  eventually(() => receiver.requests.find((r) => r.headers['webhook-id'] === eventId));

const storedSubscription = async (db: Db, id: string) =>
  (await db.sql<{ secret: string; previousSecret: string | null; previousSecretExpiresAt: Date | null }[]>`
    select secret, previous_secret as "previousSecret", previous_secret_expires_at as "previousSecretExpiresAt"
    from subscriptions where id = ${id}`)[0]!;
const storedSourceSecrets = async (db: Db, id: string) =>
  (await db.sql<{ secrets: string[] }[]>`select secrets from sources where id = ${id}`)[0]!.secrets;

/** Asserts a stored value is ciphertext under `key` that does not contain the secret in any spelling. */
function expectSealed(stored: string | null | undefined, plaintext: string, key: Buffer) {
  expect(stored).toMatch(new RegExp(`^enc:v1:${encryptionKeyId(key)}:`));
  expect(stored).not.toContain(plaintext);
  const material = plaintext.startsWith('whsec_') ? plaintext.slice(6) : plaintext;
  expect(stored).not.toContain(material);
  expect(stored).not.toContain(Buffer.from(material, 'base64').toString('hex'));
}

/** A Standard Webhooks call to an ingest URL, signed as a provider would sign it. */
function providerCall(secret: string) {
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify({ type: 'user.created', data: { id } });
  const now = new Date();
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, now, body),
    },
  };
}

describe('signing secrets at rest and their rotation', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;
  let key: Buffer;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 1 });
    tenant = await stack.createTenant('secrets');
    receiver = await startReceiver();
    key = Buffer.from(stack.env.HOOKRELAY_ENCRYPTION_KEY!, 'base64');
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  const ingest = (sourceId: string, call: { body: string; headers: Record<string, string> }) =>
    stack.anonymous.request('POST', `/in/${sourceId}`, call.body, call.headers);

  it('stores subscription secrets encrypted, shows them in plain text, and signs deliveries with them', async () => {
    const sub = await subscribe(tenant, { url: receiver.url, eventTypes: ['rest.*'] });
    expect(sub.secret).toMatch(/^whsec_/);
    expectSealed((await storedSubscription(stack.db, sub.id)).secret, sub.secret, key);

    const read = await tenant.client.get(`/v1/subscriptions/${sub.id}`);
    expect(read.body.secret).toBe(sub.secret);
    expect(read.body.previousSecretExpiresAt).toBeNull();

    const event = await publish(tenant, 'rest.one', { n: 1 });
    const req = await deliveryOf(receiver, event.id);
    expect((req.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    expect(verifies(sub.secret, req)).toBe(true);
    expect(verifies(newSecret(), req)).toBe(false);

    // A secret set by PATCH is stored encrypted too, and used at once.
    const patchedSecret = newSecret();
    const patched = await tenant.client.patch(`/v1/subscriptions/${sub.id}`, { secret: patchedSecret });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.secret).toBe(patchedSecret);
    expectSealed((await storedSubscription(stack.db, sub.id)).secret, patchedSecret, key);
    const next = await publish(tenant, 'rest.two', { n: 2 });
    const req2 = await deliveryOf(receiver, next.id);
    expect(verifies(patchedSecret, req2)).toBe(true);
    expect(verifies(sub.secret, req2)).toBe(false);
  });

  it('stores source secrets encrypted and still verifies provider calls with them', async () => {
    const [current, older] = [newSecret(), newSecret()];
    const created = await tenant.client.post('/v1/sources', { provider: 'standard_webhooks', name: 'sw', secrets: [current, older] });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    const stored = await storedSourceSecrets(stack.db, id);
    expect(stored).toHaveLength(2);
    expectSealed(stored[0], current, key);
    expectSealed(stored[1], older, key);

    expect((await ingest(id, providerCall(current))).status).toBe(200);
    expect((await ingest(id, providerCall(older))).status).toBe(200);
    expect((await ingest(id, providerCall(newSecret()))).status).toBe(401);
    const test = await tenant.client.post(`/v1/sources/${id}/test`);
    expect(test.body.statusCode, JSON.stringify(test.body)).toBe(200);

    const replacement = newSecret();
    expect((await tenant.client.patch(`/v1/sources/${id}`, { secret: replacement })).status).toBe(200);
    const restored = await storedSourceSecrets(stack.db, id);
    expect(restored).toHaveLength(1);
    expectSealed(restored[0], replacement, key);
    expect((await ingest(id, providerCall(replacement))).status).toBe(200);
    expect((await ingest(id, providerCall(current))).status).toBe(401);
  });

  it('rotates a subscription secret: both signatures for 24 h, then only the new one', async () => {
    const original = newSecret();
    const sub = await subscribe(tenant, { url: receiver.url, eventTypes: ['rotate.*'], secret: original });

    const before = Date.now();
    const rotated = await tenant.client.post(`/v1/subscriptions/${sub.id}/rotate-secret`);
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(original);
    expect(rotated.body).toMatchObject({ id: sub.id, url: receiver.url, eventTypes: ['rotate.*'] });
    const expiresAt = Date.parse(rotated.body.previousSecretExpiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 24 * HOUR_MS - 1_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 24 * HOUR_MS + 1_000);
    const read = await tenant.client.get(`/v1/subscriptions/${sub.id}`);
    expect(read.body.secret).toBe(fresh);
    expect(read.body.previousSecretExpiresAt).toBe(rotated.body.previousSecretExpiresAt);
    expect(read.body).not.toHaveProperty('previousSecret');

    const stored = await storedSubscription(stack.db, sub.id);
    expectSealed(stored.secret, fresh, key);
    expectSealed(stored.previousSecret, original, key);

    // During the overlap: two signatures, new first; the reference verifier accepts either secret.
    const during = await publish(tenant, 'rotate.during', { phase: 'overlap' });
    const req = await deliveryOf(receiver, during.id);
    const signatures = (req.headers['webhook-signature'] as string).split(' ');
    expect(signatures).toHaveLength(2);
    for (const s of signatures) expect(s).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verifies(fresh, req)).toBe(true);
    expect(verifies(original, req)).toBe(true);
    expect(verifies(newSecret(), req)).toBe(false);
    const onlyFirst = { ...signatureHeaders(req), 'webhook-signature': signatures[0]! };
    expect(() => new Webhook(original).verify(req.body, onlyFirst)).toThrow();
    expect(new Webhook(fresh).verify(req.body, onlyFirst)).toMatchObject({ type: 'rotate.during' });

    // Once the overlap has ended, only the new secret signs.
    await stack.db.sql`update subscriptions set previous_secret_expires_at = now() - interval '1 second' where id = ${sub.id}`;
    expect((await tenant.client.get(`/v1/subscriptions/${sub.id}`)).body.previousSecretExpiresAt).toBeNull();
    const after = await publish(tenant, 'rotate.after', { phase: 'done' });
    const req2 = await deliveryOf(receiver, after.id);
    expect((req2.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    expect(verifies(fresh, req2)).toBe(true);
    expect(verifies(original, req2)).toBe(false);
  });

  it('rotates to a given secret, keeps only the last one as previous, and a PATCHed secret ends the overlap', async () => {
    const [a, b, c, d] = [newSecret(), newSecret(), newSecret(), newSecret()];
    const sub = await subscribe(tenant, { url: receiver.url, eventTypes: ['given.*'], secret: a });
    const first = await tenant.client.post(`/v1/subscriptions/${sub.id}/rotate-secret`, { secret: b });
    expect(first.status, first.text).toBe(200);
    expect(first.body.secret).toBe(b);
    const second = await tenant.client.post(`/v1/subscriptions/${sub.id}/rotate-secret`, { secret: c });
    expect(second.body.secret).toBe(c);
    const stored = await storedSubscription(stack.db, sub.id);
    expectSealed(stored.previousSecret, b, key);

    const event = await publish(tenant, 'given.one', {});
    const req = await deliveryOf(receiver, event.id);
    expect(verifies(c, req)).toBe(true);
    expect(verifies(b, req)).toBe(true);
    expect(verifies(a, req)).toBe(false);

    const patched = await tenant.client.patch(`/v1/subscriptions/${sub.id}`, { secret: d });
    expect(patched.body).toMatchObject({ secret: d, previousSecretExpiresAt: null });
    const afterPatch = await storedSubscription(stack.db, sub.id);
    expect(afterPatch.previousSecret).toBeNull();
    const next = await publish(tenant, 'given.two', {});
    const req2 = await deliveryOf(receiver, next.id);
    expect((req2.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    expect(verifies(d, req2)).toBe(true);
    expect(verifies(c, req2)).toBe(false);
  });

  it('refuses a bad secret, and answers 404 for another tenant or an unknown id', async () => {
    const secret = newSecret();
    const sub = await subscribe(tenant, { url: receiver.url, eventTypes: ['iso.*'], secret });
    const path = `/v1/subscriptions/${sub.id}/rotate-secret`;

    const bad = await tenant.client.post(path, { secret: 'whsec_tooShort' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/body\/secret/);
    expect((await tenant.client.post(path, { secret: 'no-prefix' })).status).toBe(400);
    const unknown = await tenant.client.post(path, { colour: 'blue' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/colour/);
    // An empty object is the same as no body: a generated secret.
    const empty = await tenant.client.post(path, {});
    expect(empty.status, empty.text).toBe(200);
    expect(empty.body.secret).not.toBe(secret);

    const other = await stack.createTenant('intruder');
    const before = await tenant.client.get(`/v1/subscriptions/${sub.id}`);
    const stolen = await other.client.post(path, { secret: newSecret() });
    expect(stolen.status).toBe(404);
    expect(stolen.text).not.toContain('whsec_');
    expect((await other.client.post(path)).status).toBe(404);
    expect((await tenant.client.get(`/v1/subscriptions/${sub.id}`)).body).toEqual(before.body);
    expect((await tenant.client.post(`/v1/subscriptions/${randomUUID()}/rotate-secret`)).status).toBe(404);
    expect((await tenant.client.post('/v1/subscriptions/not-a-uuid/rotate-secret')).status).toBe(404);
    expect((await stack.anonymous.post(path)).status).toBe(401);

    await tenant.client.delete(`/v1/subscriptions/${sub.id}`);
    expect((await tenant.client.post(path)).status).toBe(404);
  });

  it('keeps legacy plain-text rows working, and encrypts them when they are next written', async () => {
    const legacySecret = newSecret();
    const sub = await subscribe(tenant, { url: receiver.url, eventTypes: ['legacy.*'] });
    // A row as it was stored before encryption existed.
    await stack.db.sql`update subscriptions set secret = ${legacySecret} where id = ${sub.id}`;
    expect((await tenant.client.get(`/v1/subscriptions/${sub.id}`)).body.secret).toBe(legacySecret);
    const event = await publish(tenant, 'legacy.one', {});
    expect(verifies(legacySecret, await deliveryOf(receiver, event.id))).toBe(true);

    // Rotating writes both the new and the previous secret encrypted: no plain text is left.
    const rotated = await tenant.client.post(`/v1/subscriptions/${sub.id}/rotate-secret`);
    expect(rotated.status, rotated.text).toBe(200);
    const stored = await storedSubscription(stack.db, sub.id);
    expectSealed(stored.secret, rotated.body.secret, key);
    expectSealed(stored.previousSecret, legacySecret, key);
    const next = await publish(tenant, 'legacy.two', {});
    const req = await deliveryOf(receiver, next.id);
    expect(verifies(rotated.body.secret, req)).toBe(true);
    expect(verifies(legacySecret, req)).toBe(true);

    // A legacy source: its plain-text secret still verifies calls; a PATCH encrypts what it writes.
    const secret = newSecret();
    const source = await tenant.client.post('/v1/sources', { provider: 'standard_webhooks', name: 'legacy', secret: newSecret() });
    await stack.db.sql`update sources set secrets = ${[secret]}::text[] where id = ${source.body.id}`;
    expect(await storedSourceSecrets(stack.db, source.body.id)).toEqual([secret]);
    expect((await ingest(source.body.id, providerCall(secret))).status).toBe(200);
    expect((await tenant.client.patch(`/v1/sources/${source.body.id}`, { name: 'renamed' })).status).toBe(200);
    const second = newSecret();
    expect((await tenant.client.patch(`/v1/sources/${source.body.id}`, { secrets: [second, secret] })).status).toBe(200);
    const rewritten = await storedSourceSecrets(stack.db, source.body.id);
    expectSealed(rewritten[0], second, key);
    expectSealed(rewritten[1], secret, key);
    expect((await ingest(source.body.id, providerCall(secret))).status).toBe(200);
  });
});

describe('encryption key rotation', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;
  let oldKey: Buffer;
  const newKey = randomBytes(32);
  const dbs: Db[] = [];

  /** Repositories over the stack's database with other keys, as a process with another config. */
  const dbWith = (current: Buffer, old: Buffer[] = []) => {
    const db = createDb(stack.database.url, { max: 2, encryptionKeys: { current, old } });
    dbs.push(db);
    return db;
  };

  const cli = (env: Record<string, string>, ...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...process.env, ...stack.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  /** Delivers one event through a worker of its own running with `keys`; answers the request. */
  async function deliverWith(keys: { current: Buffer; old: Buffer[] }, type: string) {
    const worker = await startWorker({ ...stack.config, encryptionKeys: keys }, pino({ level: stack.config.LOG_LEVEL }));
    try {
      const event = await publish(tenant, type, { type });
      return await deliveryOf(receiver, event.id);
    } finally {
      await worker.close();
    }
  }

  beforeAll(async () => {
    // No worker of the stack's own: each test starts one with the keys it is about.
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('keys');
    receiver = await startReceiver();
    oldKey = Buffer.from(stack.env.HOOKRELAY_ENCRYPTION_KEY!, 'base64');
  });
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.close()));
    await receiver?.close();
    await stack?.close();
  });

  it('reads rows under an old key after the key changes, and secrets:reencrypt moves them to the new one', async () => {
    // Written under the stack's key, which is about to become the old one.
    const original = newSecret();
    const sub = await subscribe(tenant, { url: receiver.url, eventTypes: ['keys.*'], secret: original });
    const rotated = await tenant.client.post(`/v1/subscriptions/${sub.id}/rotate-secret`);
    const current = rotated.body.secret as string;
    const expired = await subscribe(tenant, { url: receiver.url, eventTypes: ['none.*'] });
    await tenant.client.post(`/v1/subscriptions/${expired.id}/rotate-secret`);
    await stack.db.sql`update subscriptions set previous_secret_expires_at = now() - interval '1 minute' where id = ${expired.id}`;
    const legacySecret = newSecret();
    const legacy = await subscribe(tenant, { url: receiver.url, eventTypes: ['none.*'] });
    await stack.db.sql`update subscriptions set secret = ${legacySecret} where id = ${legacy.id}`;
    const deleted = await subscribe(tenant, { url: receiver.url, eventTypes: ['none.*'] });
    await tenant.client.delete(`/v1/subscriptions/${deleted.id}`);
    const sourceSecrets = [newSecret(), newSecret()];
    const source = await tenant.client.post('/v1/sources', { provider: 'standard_webhooks', name: 'keys', secrets: sourceSecrets });
    expect(source.status, source.text).toBe(201);
    expectSealed((await storedSubscription(stack.db, sub.id)).secret, current, oldKey);

    // The key changes: the old one is still listed, so everything decrypts.
    const rotatedDb = dbWith(newKey, [oldKey]);
    expect((await getSubscription(rotatedDb, tenant.id, sub.id))?.secret).toBe(current);
    expect((await getSubscription(rotatedDb, tenant.id, legacy.id))?.secret).toBe(legacySecret);
    expect((await getSource(rotatedDb, tenant.id, source.body.id))?.secrets).toEqual(sourceSecrets);
    const [forDelivery] = await loadSubscriptionsForDelivery(rotatedDb, [sub.id]);
    expect(forDelivery).toMatchObject({ secret: current, previousSecret: original });
    // Without the old key they do not: nothing is guessed, and the message names the key.
    const newOnly = dbWith(newKey);
    await expect(getSubscription(newOnly, tenant.id, sub.id)).rejects.toThrow(
      new RegExp(`key ${encryptionKeyId(oldKey)}.*HOOKRELAY_ENCRYPTION_OLD_KEYS`),
    );

    // A worker on the new key (the old one listed) signs with both secrets it decrypted.
    const before = await deliverWith({ current: newKey, old: [oldKey] }, 'keys.before');
    expect(verifies(current, before)).toBe(true);
    expect(verifies(original, before)).toBe(true);

    // The next write of a row uses the new key.
    const patchedSecret = newSecret();
    await updateSubscription(rotatedDb, tenant.id, legacy.id, { secret: patchedSecret });
    expectSealed((await storedSubscription(stack.db, legacy.id)).secret, patchedSecret, newKey);

    const env = { HOOKRELAY_ENCRYPTION_KEY: newKey.toString('base64'), HOOKRELAY_ENCRYPTION_OLD_KEYS: oldKey.toString('base64') };
    const run = await cli(env, 'secrets:reencrypt');
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain(`re-encrypting under key ${encryptionKeyId(newKey)}`);
    // 4 subscriptions (the deleted one too) of which 3 are under the old key; 1 source.
    expect(run.stdout).toMatch(/subscriptions: 4 checked, 3 re-encrypted…/);
    expect(run.stdout).toMatch(/sources: 1 checked, 1 re-encrypted…/);
    expect(run.stdout).toMatch(/subscriptions: done, 4 checked, 3 re-encrypted, 0 failed/);
    expect(run.stdout).toMatch(/sources: done, 1 checked, 1 re-encrypted, 0 failed/);

    // Every stored secret is now under the new key; the ended overlap's secret is gone.
    const rows = await stack.db.sql<{ id: string; secret: string; previousSecret: string | null }[]>`
      select id, secret, previous_secret as "previousSecret" from subscriptions`;
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.secret).toMatch(new RegExp(`^enc:v1:${encryptionKeyId(newKey)}:`));
      if (row.id === sub.id) expectSealed(row.previousSecret, original, newKey);
      else expect(row.previousSecret).toBeNull();
    }
    const storedSource = await storedSourceSecrets(stack.db, source.body.id);
    expectSealed(storedSource[0], sourceSecrets[0]!, newKey);
    expectSealed(storedSource[1], sourceSecrets[1]!, newKey);

    // The old key can be retired: the new key alone reads everything, the old key alone nothing.
    expect((await getSubscription(newOnly, tenant.id, sub.id))?.secret).toBe(current);
    expect((await getSubscription(newOnly, tenant.id, legacy.id))?.secret).toBe(patchedSecret);
    expect((await getSource(newOnly, tenant.id, source.body.id))?.secrets).toEqual(sourceSecrets);
    await expect(getSubscription(dbWith(oldKey), tenant.id, sub.id)).rejects.toThrow(/HOOKRELAY_ENCRYPTION_OLD_KEYS/);
    const after = await deliverWith({ current: newKey, old: [] }, 'keys.after');
    expect(verifies(current, after)).toBe(true);
    expect(verifies(original, after)).toBe(true);

    // Nothing left to do on a second run.
    const again = await cli(env, 'secrets:reencrypt');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/subscriptions: done, 4 checked, 0 re-encrypted, 0 failed/);
    expect(again.stdout).toMatch(/sources: done, 1 checked, 0 re-encrypted, 0 failed/);

    // With a key that cannot read the rows, it reports each one, fails, and rewrites nothing.
    const wrong = await cli({ HOOKRELAY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, 'secrets:reencrypt');
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/subscriptions: done, 4 checked, 0 re-encrypted, 4 failed/);
    expect(wrong.stdout).toContain(`subscription ${sub.id}: stored secret was encrypted under key ${encryptionKeyId(newKey)}`);
    expect(wrong.stderr).toMatch(/5 row\(s\) could not be re-encrypted/);
    expect((await storedSubscription(stack.db, sub.id)).secret).toBe(rows.find((r) => r.id === sub.id)!.secret);
  });
});
