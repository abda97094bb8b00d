import type { Config } from '@hookrelay/config';
import {
  createTenant,
  getTenant,
  listSubscriptions,
  listTenants,
  publishEvent,
  reencryptSourceSecrets,
  reencryptSubscriptionSecrets,
  type Db,
  type ReencryptProgress,
} from '@hookrelay/db';
import { EVENT_TYPE_REGEX, OPERATIONAL_EVENT_PREFIX } from '@hookrelay/domain';
import type { EndpointGuard } from '@hookrelay/protection';
import { enqueueDeliveries, type Queues } from '@hookrelay/queue';
import { replayDeadDeliveries } from '@hookrelay/worker';

export interface CliContext {
  config: Config;
  db: Db;
  queues: Queues;
  guard: EndpointGuard;
  out: (line: string) => void;
}

export class UsageError extends Error {}

const need = (value: string | undefined, what: string): string => {
  if (!value) throw new UsageError(`missing ${what}`);
  return value;
};

async function allPages<T extends { id: string }>(fetch: (cursor?: string) => Promise<{ data: T[]; nextCursor: string | null }>) {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor);
    items.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

const table = (out: (line: string) => void, rows: Record<string, unknown>[]) => {
  if (rows.length === 0) return out('(none)');
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => out(cells.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd());
  line(cols);
  for (const r of rows) line(cols.map((c) => String(r[c] ?? '')));
};

export const COMMANDS: Record<string, { usage: string; run(ctx: CliContext, args: string[], opts: Record<string, string | undefined>): Promise<void> }> = {
  'tenants:create': {
    usage: 'tenants:create <name>            create a tenant and print its API key (shown once)',
    async run({ db, out }, [name]) {
      const { tenant, apiKey } = await createTenant(db, need(name, 'tenant name'));
      out(`tenant  ${tenant.id}  ${tenant.name}`);
      out(`apiKey  ${apiKey}`);
    },
  },
  'tenants:list': {
    usage: 'tenants:list                     list tenants',
    async run({ db, out }) {
      const tenants = await allPages((cursor) => listTenants(db, { limit: 100, cursor }));
      table(out, tenants.map((t) => ({ id: t.id, name: t.name, created: t.createdAt.toISOString() })));
    },
  },
  'subscriptions:list': {
    usage: 'subscriptions:list <tenantId>    list a tenant\'s subscriptions with their health',
    async run({ db, guard, out }, [tenantId]) {
      const id = need(tenantId, 'tenant id');
      if (!(await getTenant(db, id))) throw new UsageError(`no tenant ${id}`);
      const subs = await allPages((cursor) => listSubscriptions(db, id, { limit: 100, cursor }));
      const rows = [];
      for (const s of subs) {
        const h = await guard.health(s.id);
        rows.push({
          id: s.id,
          url: s.url,
          enabled: s.enabled ? 'yes' : `no${s.disabledReason ? ` (${s.disabledReason})` : ''}`,
          breaker: h.state,
          failureRate: h.failureRate === null ? '-' : `${Math.round(h.failureRate * 100)}%`,
          events: s.eventTypes.join(','),
        });
      }
      table(out, rows);
    },
  },
  'events:send': {
    usage: 'events:send <tenantId> <type> [json]   publish a test event (data defaults to {"test":true})',
    async run({ db, queues, out }, [tenantId, type, json]) {
      const id = need(tenantId, 'tenant id');
      const eventType = need(type, 'event type');
      if (!EVENT_TYPE_REGEX.test(eventType) || eventType.toLowerCase().startsWith(OPERATIONAL_EVENT_PREFIX)) {
        throw new UsageError(`"${eventType}" is not an event type a tenant may publish`);
      }
      if (!(await getTenant(db, id))) throw new UsageError(`no tenant ${id}`);
      let data: unknown = { test: true, sentAt: new Date().toISOString() };
      if (json !== undefined) {
        try {
          data = JSON.parse(json);
        } catch {
          throw new UsageError('data is not valid JSON');
        }
      }
      const result = await publishEvent(db, id, { type: eventType, data });
      await enqueueDeliveries(queues, result.deliveries);
      out(`event ${result.event.id} (${eventType}) fanned out to ${result.event.deliveryCount} subscription(s)`);
    },
  },
  replay: {
    usage: 'replay <subscriptionId> [--since ISO] [--until ISO]   replay dead deliveries, showing progress',
    async run({ db, queues, out }, [subscriptionId], opts) {
      const id = need(subscriptionId, 'subscription id');
      const date = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const d = new Date(v);
        if (Number.isNaN(d.getTime())) throw new UsageError(`--${name} is not a date`);
        return d;
      };
      const replayed = await replayDeadDeliveries(
        db,
        queues,
        { subscriptionId: id, since: date(opts.since, 'since'), until: date(opts.until, 'until') },
        (n) => out(`replayed ${n}…`),
      );
      out(`done: ${replayed} dead deliveries replayed`);
    },
  },
  'secrets:reencrypt': {
    usage: 'secrets:reencrypt                re-encrypt every stored secret under HOOKRELAY_ENCRYPTION_KEY, so old keys can be retired',
    async run({ db, out }) {
      out(`re-encrypting under key ${db.secrets.keyId}`);
      const report = (what: string) => (p: ReencryptProgress) =>
        out(`${what}: ${p.checked} checked, ${p.reencrypted} re-encrypted${p.failed.length ? `, ${p.failed.length} failed` : ''}…`);
      const results = {
        subscriptions: await reencryptSubscriptionSecrets(db, { onProgress: report('subscriptions') }),
        sources: await reencryptSourceSecrets(db, { onProgress: report('sources') }),
      };
      for (const [what, r] of Object.entries(results)) {
        out(`${what}: done, ${r.checked} checked, ${r.reencrypted} re-encrypted, ${r.failed.length} failed`);
        for (const f of r.failed) out(`  ${what.slice(0, -1)} ${f.id}: ${f.error}`);
      }
      const failed = results.subscriptions.failed.length + results.sources.failed.length;
      if (failed > 0) {
        throw new Error(`${failed} row(s) could not be re-encrypted: keep the old keys configured until they are fixed`);
      }
      out('every secret is now under the current key; HOOKRELAY_ENCRYPTION_OLD_KEYS can be emptied');
    },
  },
  queues: {
    usage: 'queues                           show queue depths',
    async run({ queues, out }) {
      const rows = [];
      for (const q of [queues.deliveries, queues.batches, queues.retries, queues.deadLetters, queues.maintenance]) {
        const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
        rows.push({ queue: q.name, waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active, delayed: c.delayed, failed: c.failed });
      }
      table(out, rows);
    },
  },
};

export const usage = (): string =>
  ['usage: pnpm hookrelay <command> [args]', '', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join('\n');
