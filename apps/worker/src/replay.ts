import { countDeadDeliveries, reviveDeadDeliveries, type Db, type DeadDeliveryFilter } from '@hookrelay/db';
import { enqueueDeliveries, type Queues } from '@hookrelay/queue';

const BATCH = 500;

/**
 * Replays dead deliveries in batches: each batch starts a fresh round in Postgres, leaves the
 * dead-letter queue and is enqueued. Answers how many were replayed. Interrupted, it can simply
 * run again: what it already replayed is no longer dead.
 */
export async function replayDeadDeliveries(
  db: Db,
  queues: Queues,
  filter: DeadDeliveryFilter,
  onBatch: (replayedSoFar: number) => void | Promise<void> = () => {},
): Promise<number> {
  // Bounded by what was dead at the start: deliveries that die again while the replay runs (a
  // still-broken endpoint) are not taken round again.
  const total = await countDeadDeliveries(db, filter);
  let replayed = 0;
  while (replayed < total) {
    const batch = await reviveDeadDeliveries(db, filter, Math.min(BATCH, total - replayed));
    if (batch.length === 0) break;
    await Promise.all(batch.map((d) => queues.deadLetters.remove(d.id)));
    await enqueueDeliveries(queues, batch);
    replayed += batch.length;
    await onBatch(replayed);
    if (batch.length < BATCH) break;
  }
  return replayed;
}
