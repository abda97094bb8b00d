/** Most deliveries one batch job carries: its data (the ids) stays around 2 KB. */
export const MAX_DELIVERY_BATCH = 50;

export interface BatchableRef {
  id: string;
  subscriptionId: string;
  batchId?: string | null;
}

/**
 * Groups the first attempts of deliveries published together by subscription, so that one job
 * carries up to `maxSize` of them: queueing, fetching and reading are then paid once per batch
 * rather than once per delivery. A group's id is the id of its first delivery. A delivery alone
 * for its subscription stays unbatched (batchId null) and gets a job of its own. Sets `batchId`
 * on every ref, in place; order is kept.
 */
export function assignBatches(refs: readonly BatchableRef[], maxSize = MAX_DELIVERY_BATCH): void {
  const open = new Map<string, BatchableRef[]>();
  const groups: BatchableRef[][] = [];
  for (const ref of refs) {
    let group = open.get(ref.subscriptionId);
    if (!group || group.length >= maxSize) {
      group = [];
      open.set(ref.subscriptionId, group);
      groups.push(group);
    }
    group.push(ref);
  }
  for (const group of groups) {
    const batchId = group.length > 1 ? group[0]!.id : null;
    for (const ref of group) ref.batchId = batchId;
  }
}
