import { randomUUID } from 'node:crypto';
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { sources } from './schema.ts';

export type Source = typeof sources.$inferSelect;
export type SourceInput = Pick<typeof sources.$inferInsert, 'provider' | 'name' | 'secrets' | 'eventTypePrefix' | 'config' | 'enabled'>;

const live = (tenantId: string, id: string) =>
  and(eq(sources.tenantId, tenantId), eq(sources.id, id), isNull(sources.deletedAt));

export async function createSource(db: Db, tenantId: string, input: SourceInput): Promise<Source> {
  const [row] = await db.orm
    .insert(sources)
    .values({ ...input, id: randomUUID(), tenantId })
    .returning();
  return row!;
}

export async function getSource(db: Db, tenantId: string, id: string): Promise<Source | undefined> {
  const [row] = await db.orm.select().from(sources).where(live(tenantId, id));
  return row;
}

/** The ingest path's lookup: by id alone, since the caller is a provider, not a tenant. */
export async function findSourceForIngest(db: Db, id: string): Promise<Source | undefined> {
  const [row] = await db.orm
    .select()
    .from(sources)
    .where(and(eq(sources.id, id), isNull(sources.deletedAt)));
  return row;
}

export async function listSources(db: Db, tenantId: string, page: PageRequest) {
  const after = decodeCursor(page.cursor);
  const rows = await db.orm
    .select()
    .from(sources)
    .where(and(eq(sources.tenantId, tenantId), isNull(sources.deletedAt), after ? lt(sources.id, after) : undefined))
    .orderBy(desc(sources.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

export async function updateSource(
  db: Db,
  tenantId: string,
  id: string,
  patch: Partial<SourceInput>,
): Promise<Source | undefined> {
  const [row] = await db.orm
    .update(sources)
    .set({ ...patch, updatedAt: new Date() })
    .where(live(tenantId, id))
    .returning();
  return row;
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
