import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { reencryptRows, type ReencryptOptions, type ReencryptProgress } from './reencrypt.ts';
import { sources } from './schema.ts';

export type Source = typeof sources.$inferSelect;
export type SourceInput = Pick<typeof sources.$inferInsert, 'provider' | 'name' | 'secrets' | 'eventTypePrefix' | 'config' | 'enabled'>;

const live = (tenantId: string, id: string) =>
  and(eq(sources.tenantId, tenantId), eq(sources.id, id), isNull(sources.deletedAt));

/** Secrets are encrypted here and nowhere else: written as ciphertext, read back as plain text. */
function opened(db: Db, row: Source): Source;
function opened(db: Db, row: Source | undefined): Source | undefined;
function opened(db: Db, row: Source | undefined): Source | undefined {
  return row && { ...row, secrets: row.secrets.map((s) => db.secrets.decrypt(s)) };
}

const sealed = (db: Db, secrets: readonly string[]) => secrets.map((s) => db.secrets.encrypt(s));

export async function createSource(db: Db, tenantId: string, input: SourceInput): Promise<Source> {
  const [row] = await db.orm
    .insert(sources)
    .values({ ...input, secrets: sealed(db, input.secrets), id: randomUUID(), tenantId })
    .returning();
  return opened(db, row!);
}

export async function getSource(db: Db, tenantId: string, id: string): Promise<Source | undefined> {
  const [row] = await db.orm.select().from(sources).where(live(tenantId, id));
  return opened(db, row);
}

/** The ingest path's lookup: by id alone, since the caller is a provider, not a tenant. */
export async function findSourceForIngest(db: Db, id: string): Promise<Source | undefined> {
  const [row] = await db.orm
    .select()
    .from(sources)
    .where(and(eq(sources.id, id), isNull(sources.deletedAt)));
  return opened(db, row);
}

export async function listSources(db: Db, tenantId: string, page: PageRequest) {
  const after = decodeCursor(page.cursor);
  const rows = await db.orm
    .select()
    .from(sources)
    .where(and(eq(sources.tenantId, tenantId), isNull(sources.deletedAt), after ? lt(sources.id, after) : undefined))
    .orderBy(desc(sources.id))
    .limit(page.limit + 1);
  return toPage(
    rows.map((row) => opened(db, row)),
    page.limit,
  );
}

export async function updateSource(
  db: Db,
  tenantId: string,
  id: string,
  patch: Partial<SourceInput>,
): Promise<Source | undefined> {
  const [row] = await db.orm
    .update(sources)
    .set({ ...patch, ...(patch.secrets !== undefined ? { secrets: sealed(db, patch.secrets) } : {}), updatedAt: new Date() })
    .where(live(tenantId, id))
    .returning();
  return opened(db, row);
}

export async function deleteSource(db: Db, tenantId: string, id: string): Promise<boolean> {
  const rows = await db.orm
    .update(sources)
    .set({ deletedAt: new Date(), enabled: false })
    .where(live(tenantId, id))
    .returning({ id: sources.id });
  return rows.length > 0;
}

/** Counts a call that failed verification; rejected calls store nothing else. */
export async function countRejectedCall(db: Db, id: string): Promise<void> {
  await db.orm
    .update(sources)
    .set({ rejectedCount: sql`${sources.rejectedCount} + 1` })
    .where(eq(sources.id, id));
}

/** Rewrites every source's secrets (deleted ones too) that are not yet under the current key. */
export async function reencryptSourceSecrets(db: Db, options: ReencryptOptions = {}): Promise<ReencryptProgress> {
  const box = db.secrets;
  type Row = { id: string; secrets: string[] };
  return reencryptRows<Row>(
    {
      batch: (afterId, limit) => db.sql<Row[]>`select id, secrets from sources where id > ${afterId}::uuid order by id limit ${limit}`,
      one: async (id) => (await db.sql<Row[]>`select id, secrets from sources where id = ${id}::uuid`)[0],
    },
    async (row) => {
      if (row.secrets.every((s) => box.isCurrent(s))) return 'current';
      const secrets = row.secrets.map((s) => (box.isCurrent(s) ? s : box.encrypt(box.decrypt(s))));
      const updated = await db.sql`
        update sources set secrets = ${secrets}::text[] where id = ${row.id}::uuid and secrets = ${row.secrets}::text[]`;
      return updated.count === 1 ? 'written' : 'changed';
    },
    options,
  );
}
