import { and, desc, eq, isNull, lt } from 'drizzle-orm';
import { generateApiKey, hashApiKey } from '@hookrelay/domain';
import type { Db } from './client.ts';
import { newId } from './ids.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { apiKeys, tenants } from './schema.ts';

export type Tenant = typeof tenants.$inferSelect;
export type ApiKeyInfo = Omit<typeof apiKeys.$inferSelect, 'keyHash'>;

export async function createTenant(db: Db, name: string): Promise<{ tenant: Tenant; apiKey: string }> {
  return db.orm.transaction(async (tx) => {
    const [tenant] = await tx.insert(tenants).values({ id: newId(), name }).returning();
    const key = generateApiKey();
    await tx.insert(apiKeys).values({ id: newId(), tenantId: tenant!.id, keyHash: key.hash, hint: key.hint });
    return { tenant: tenant!, apiKey: key.key };
  });
}

export async function listTenants(db: Db, page: PageRequest) {
  const after = decodeCursor(page.cursor);
  const rows = await db.orm
    .select()
    .from(tenants)
    .where(after ? lt(tenants.id, after) : undefined)
    .orderBy(desc(tenants.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

export async function updateTenantSettings(
  db: Db,
  id: string,
  settings: Tenant['settings'],
): Promise<Tenant | undefined> {
  const [row] = await db.orm.update(tenants).set({ settings }).where(eq(tenants.id, id)).returning();
  return row;
}

export async function getTenant(db: Db, id: string): Promise<Tenant | undefined> {
  const [row] = await db.orm.select().from(tenants).where(eq(tenants.id, id));
  return row;
}

const apiKeyColumns = {
  id: apiKeys.id,
  tenantId: apiKeys.tenantId,
  hint: apiKeys.hint,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

export async function createApiKey(db: Db, tenantId: string): Promise<(ApiKeyInfo & { apiKey: string }) | undefined> {
  if (!(await getTenant(db, tenantId))) return undefined;
  const key = generateApiKey();
  const [row] = await db.orm
    .insert(apiKeys)
    .values({ id: newId(), tenantId, keyHash: key.hash, hint: key.hint })
    .returning(apiKeyColumns);
  return { ...row!, apiKey: key.key };
}

export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyInfo[]> {
  return db.orm.select(apiKeyColumns).from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(desc(apiKeys.id));
}

/** Marks a key revoked; answers whether a live key of that tenant was found. */
export async function revokeApiKey(db: Db, tenantId: string, keyId: string): Promise<boolean> {
  const rows = await db.orm
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** The tenant a live key belongs to. Lookup is by hash, so the key itself is never compared. */
export async function findTenantIdByApiKey(db: Db, key: string): Promise<string | undefined> {
  const [row] = await db.orm
    .select({ tenantId: apiKeys.tenantId })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, hashApiKey(key)), isNull(apiKeys.revokedAt)));
  return row?.tenantId;
}
