import { LRUCache } from 'lru-cache';
import type { FanoutTargets } from './subscriptions-repository.ts';

/**
 * The fan-out targets an API process remembers per tenant, with the version they were read at,
 * so a publish batch need not read them again. A remembered list is only used under a check made
 * by the insert statement itself: the event goes in only while the tenant's
 * `subscriptions_version` still equals the remembered one (a trigger bumps it on every change that
 * can alter fan-out). Otherwise the list is forgotten and read again, so a subscription change
 * answered before a publish arrived always applies to it.
 */
export class FanoutCache {
  private readonly entries: LRUCache<string, FanoutTargets>;

  constructor(maxTenants = 10_000) {
    this.entries = new LRUCache({ max: maxTenants });
  }

  get(tenantId: string): FanoutTargets | undefined {
    return this.entries.get(tenantId);
  }

  set(tenantId: string, targets: FanoutTargets): void {
    this.entries.set(tenantId, targets);
  }

  forget(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}
