import type { FastifyBaseLogger } from 'fastify';
import { FanoutCache, GroupCommit, isDatabaseUnavailable, publishEvents, type Db, type PublishInput, type PublishRequest, type PublishResult } from '@hookrelay/db';
import { enqueueCommitted } from './routes/deps.ts';

/**
 * Publish transactions in flight at once: one commits while the next is written. Two, not more:
 * with four the batches were half as large, and the extra statements and round trips cost more
 * CPU than the overlap gained (ingest at 128 connections 2,735–3,103/s with four, 3,277–3,437/s with two).
 */
const PUBLISH_CONCURRENCY = 2;

/**
 * Publishes that must be waiting before the second transaction starts beside the first. At a
 * moderate rate (1,000/s) a second transaction only halved every batch, and each batch is a
 * statement, an addBulk and a batch job for the worker: end to end, p50 6.7–7.0 ms with 16
 * against 9.8 ms with any. Under load the queue passes 16 at once and both stay in use.
 */
const PUBLISH_OVERLAP_AT = 16;

/**
 * How long a committed batch keeps its place while Redis takes its jobs. At a moderate rate the
 * publishes that arrive meanwhile then share the next batch: one statement, one addBulk and one
 * batch job for the worker, where each would otherwise go alone. Under load a second batch starts
 * beside it anyway (PUBLISH_OVERLAP_AT); the bound keeps a stalled Redis from holding back
 * commits. hookrelay_publish_batch_events shows how many publishes each transaction takes
 * (docs/performance.md, changes 67–68).
 */
const ENQUEUE_HOLD_MS = 50;

type Outcome = { result: PublishResult; enqueued: Promise<void> } | { error: unknown };

export interface Publisher {
  /** Resolves once the event and its deliveries are committed and their jobs handed to Redis. */
  publish(tenantId: string, input: PublishInput): Promise<PublishResult>;
}

/**
 * Group commit for POST /v1/events: the publishes that arrive while a transaction is being
 * committed share the next one (one WAL flush, multi-row inserts) and one addBulk. Each request
 * still gets its 202 only after its own rows are durable.
 *
 * A batch that fails for any reason but an unreachable database is split, each publish retried on
 * its own, so one request's problem never fails its neighbours.
 */
export function createPublisher(db: Db, enqueueTo: Parameters<typeof enqueueCommitted>[0], log: FastifyBaseLogger): Publisher {
  const enqueue = (results: PublishResult[]) =>
    enqueueCommitted(enqueueTo, results.flatMap((r) => r.deliveries), log, { events: results.map((r) => r.event.id) });

  // Each tenant's fan-out targets, kept between batches: the insert checks they are still current.
  const targets = new FanoutCache();
  const committed = (publishes: number) => enqueueTo.metrics?.publishBatchEvents.observe(publishes);
  const batches = new GroupCommit<PublishRequest, Outcome>(async (batch) => {
    let results: PublishResult[];
    try {
      results = await publishEvents(db, batch, targets);
    } catch (err) {
      if (batch.length === 1 || isDatabaseUnavailable(err)) throw err;
      return Promise.all(
        batch.map((one) =>
          publishEvents(db, [one], targets).then(
            ([result]) => {
              committed(1);
              return { result: result!, enqueued: enqueue([result!]) };
            },
            (error: unknown) => ({ error }),
          ),
        ),
      );
    }
    committed(batch.length);
    const enqueued = enqueue(results);
    await settledOrAfter(enqueued, ENQUEUE_HOLD_MS);
    return results.map((result) => ({ result, enqueued }));
  }, { concurrency: PUBLISH_CONCURRENCY, overlapAt: PUBLISH_OVERLAP_AT });

  return {
    async publish(tenantId, input) {
      const outcome = await batches.add({ tenantId, input });
      if ('error' in outcome) throw outcome.error;
      await outcome.enqueued;
      return outcome.result;
    },
  };
}

/** Resolves when `promise` settles (it never rejects here) or after `ms`, whichever comes first. */
async function settledOrAfter(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
