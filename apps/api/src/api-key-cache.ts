import { LRUCache } from 'lru-cache';
import { hashApiKey } from '@hookrelay/domain';
import { findTenantIdByApiKey, type Db } from '@hookrelay/db';

/** How long an API process trusts a key it has looked up: a revocation made elsewhere takes this long to reach it. */
export const API_KEY_CACHE_MS = 5_000;

/**
 * Which tenant a key belongs to, remembered for a few seconds so a busy tenant's requests do not
 * each cost a Postgres round trip. Only keys found live are remembered, under their hash (the key
 * itself is never kept); a revocation through this process forgets everything at once.
 */
export class ApiKeyCache {
  private readonly tenants = new LRUCache<string, string>({ max: 10_000, ttl: API_KEY_CACHE_MS });

  constructor(private readonly db: Db) {}

  async tenantOf(key: string): Promise<string | undefined> {
    const hash = hashApiKey(key);
    const cached = this.tenants.get(hash);
    if (cached) return cached;
    const tenantId = await findTenantIdByApiKey(this.db, key);
    if (tenantId) this.tenants.set(hash, tenantId);
    return tenantId;
  }

  /** After a revocation: no key is trusted without a fresh lookup. */
  forgetAll(): void {
    this.tenants.clear();
  }
}
