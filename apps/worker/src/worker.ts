import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '@hookrelay/config';
import { createDb, GroupCommit, isDatabaseUnavailable, recordAttemptResults, type AttemptResult } from '@hookrelay/db';
import { EndpointGuard, EndpointHolds, listenForHolds } from '@hookrelay/protection';
import {
  attemptJobId,
  createQueues,
  createRedis,
  enqueueFirstAttempt,
  enqueueRetry,
  queuePrefix,
  BATCH_QUEUE,
  DEAD_LETTER_QUEUE,
  DELIVERY_QUEUE,
  MAINTENANCE_QUEUE,
  RETRY_QUEUE,
  type ReplayDeadJobData,
} from '@hookrelay/queue';
import { createDeliveryProcessor } from './delivery-processor.ts';
import { createDeadLetterProcessor } from './dead-letter-processor.ts';
import { createEndpointDisabler } from './endpoint-disabler.ts';
import { createOperationalEvents } from './operational-events.ts';
import { replayDeadDeliveries } from './replay.ts';
import { runRetention } from './retention.ts';
import { createWebhookSender } from './http/send-webhook.ts';
import { createLoaders } from './loaders.ts';
import { SlotWaits } from './slot-waits.ts';
import { startReconciler } from './reconciler.ts';
import { USER_AGENT } from './user-agent.ts';
import { createWorkerMetrics } from '@hookrelay/metrics';

import { startMetricsServer } from './metrics-server.ts';

const RETENTION_JOB = 'retention';

/**
 * How long the first attempt result after a quiet spell waits for others to share its write. At a
 * moderate rate results finish a few milliseconds apart, and each alone was a statement, a WAL
 * flush and a wake-up of a Postgres backend.
 */
const ATTEMPT_RECORD_LINGER_MS = 5;

export type WorkerConfig = Pick<
  Config,
  | 'DATABASE_URL'
  | 'REDIS_URL'
  | 'HOOKRELAY_REDIS_PREFIX'
  | 'HOOKRELAY_ALLOW_PRIVATE_NETWORKS'
  | 'allowedPorts'
  | 'HOOKRELAY_WORKER_CONCURRENCY'
  | 'HOST'
  | 'HOOKRELAY_WORKER_METRICS_PORT'
  | 'HOOKRELAY_DELIVERY_TIMEOUT_MS'
  | 'HOOKRELAY_JOB_LOCK_MS'
  | 'HOOKRELAY_STALLED_INTERVAL_MS'
  | 'HOOKRELAY_RECONCILE_INTERVAL_MS'
  | 'HOOKRELAY_RECONCILE_GRACE_MS'
  | 'HOOKRELAY_SHUTDOWN_TIMEOUT_MS'
  | 'HOOKRELAY_RETENTION_DAYS'
  | 'encryptionKeys'
>;

export interface WorkerHandle {
  /** Stops taking jobs, lets in-flight deliveries finish (or returns them to the queue), flushes writes. */
  close(): Promise<void>;
}

export async function startWorker(config: WorkerConfig, logger: Logger): Promise<WorkerHandle> {
  const metrics = createWorkerMetrics();
  // Bound before anything else opens.
  const metricsPort = config.HOOKRELAY_WORKER_METRICS_PORT;
  // Delivering matters more than being measured: a taken port (a second worker on one host with
  // the default) costs this worker its metrics, not its start.
  const metricsServer =
    metricsPort > 0
      ? await startMetricsServer(metrics.registry, metricsPort, config.HOST, logger).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EADDRINUSE') throw err;
          logger.warn({ port: metricsPort }, 'metrics port is taken; this worker runs without a metrics server (set HOOKRELAY_WORKER_METRICS_PORT)');
          return undefined;
        })
      : undefined;
  const db = createDb(config.DATABASE_URL, { max: 10, encryptionKeys: config.encryptionKeys });
  const redis = createRedis(config.REDIS_URL, 'worker');
  const prefix = queuePrefix(config.HOOKRELAY_REDIS_PREFIX);
  const redisProblem = (err: Error) => logger.warn({ err: err.message }, 'redis connection problem');
  redis.on('error', redisProblem);
  const queues = createQueues(redis, config.HOOKRELAY_REDIS_PREFIX, redisProblem);
  // The endpoint gate is asked twice per attempt by every job in flight: on a connection of its
  // own with auto-pipelining, the commands of one event-loop turn share a write. (BullMQ's own
  // connection is left without it, as BullMQ expects.)
  const guardRedis = createRedis(config.REDIS_URL, 'worker', { enableAutoPipelining: true });
  guardRedis.on('error', redisProblem);
  const sender = createWebhookSender({
    timeoutMs: config.HOOKRELAY_DELIVERY_TIMEOUT_MS,
    allowPrivateNetworks: config.HOOKRELAY_ALLOW_PRIVATE_NETWORKS,
    allowedPorts: config.allowedPorts,
  });
  const recorder = new GroupCommit<AttemptResult>(async (batch) => {
    await recordAttemptResults(db, batch);
    metrics.attemptRecordBatchSize.observe(batch.length);
  }, {
    // The receiver has answered by then, so the wait delays no delivery, only the job's completion.
    lingerMs: ATTEMPT_RECORD_LINGER_MS,
    retryable: isDatabaseUnavailable,
    retryForMs: 5 * 60_000,
    onRetry: (err, waitMs) => logger.warn({ err: (err as Error).message, waitMs }, 'Postgres unavailable; holding attempt results'),
  });
  const loaders = createLoaders(db);

  const emit = createOperationalEvents(db, queues, logger);
  const guard = new EndpointGuard(guardRedis, config.HOOKRELAY_REDIS_PREFIX);
  // What the other processes' gate answers and resets say, on a subscribed connection of its own.
  const holds = new EndpointHolds();
  const notices = createRedis(config.REDIS_URL, 'worker');
  notices.on('error', redisProblem);
  const listening = listenForHolds(notices, config.HOOKRELAY_REDIS_PREFIX, holds, guard.origin);
  listening.subscribed.catch((err: unknown) => logger.warn({ err }, 'could not subscribe to hold notices'));
  const processor = createDeliveryProcessor({
    ...loaders,
    sender,
    guard,
    holds,
    record: (r) => recorder.add(r),
    scheduleRetry: (data, delayMs, subscriptionId) => enqueueRetry(queues, data, delayMs, subscriptionId),
    queueFirstAttempt: (data, delayMs, subscriptionId) => enqueueFirstAttempt(queues, data, delayMs, subscriptionId),
    // One round trip for the whole batch: a batch back from a wait asks this of every member.
    haveOwnJobs: async (data) => {
      const keys = data.map((d) => queues.deliveries.toKey(attemptJobId(d.delivery, d.attempt)));
      const replies = await redis.pipeline(keys.map((key) => ['exists', key])).exec();
      if (!replies) throw new Error('Redis answered no replies to the batch members\' job check');
      return replies.map(([err, n]) => {
        if (err) throw err;
        return n === 1;
      });
    },
    batchConcurrency: config.HOOKRELAY_WORKER_CONCURRENCY,
    disableEndpoint: createEndpointDisabler(db, queues, emit, logger),
    emit,
    leaseMs: config.HOOKRELAY_DELIVERY_TIMEOUT_MS + 5_000,
    // One endpoint may hold at most half of a queue's slots here (in flight and waiting for a slot); the rest stay free for others.
    slotWaits: new SlotWaits(Math.max(4, Math.floor(config.HOOKRELAY_WORKER_CONCURRENCY / 2))),
    deadLetter: async (data) => {
      // An entry left from an earlier death of the same delivery would block the new one.
      await queues.deadLetters.remove(data.deliveryId);
      await queues.deadLetters.add('dead', data, { jobId: data.deliveryId, removeOnComplete: true, removeOnFail: false });
    },
    userAgent: USER_AGENT,
    logger,
    metrics,
  });

  const attemptWorkerOptions = {
    connection: redis,
    prefix,
    concurrency: config.HOOKRELAY_WORKER_CONCURRENCY,
    // The lock outlasts the HTTP timeout with margin, so a slow receiver never looks stalled.
    lockDuration: config.HOOKRELAY_JOB_LOCK_MS,
    stalledInterval: config.HOOKRELAY_STALLED_INTERVAL_MS,
    // A job whose worker died mid-delivery is run again rather than failed; Postgres keeps the count.
    maxStalledCount: 10,
    // Postgres keeps the history; finished jobs leave Redis at once so memory stays flat. Set here
    // rather than on each job, whose opts must stay small enough for a listpack (see
    // deliveryJobOptions); BullMQ applies the worker's setting to jobs that have none.
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  };
  // First attempts and retries have workers of their own, so a backlog of retries never delays a
  // first attempt. Batches of first attempts have one too; their attempts share the process's
  // batch slots (the same number again). A quarter as many batch jobs as slots are in progress at
  // once: each carries up to 50 attempts, so more would only hold more attempts waiting for a
  // slot (memory), and fewer would let the batches of a few endpoints that hold their requests
  // open (each batch waits for its own attempts) take them all: an eighth (25) saved a few MiB
  // under a 1M backlog, but three slow endpoints at their default cap of 10 could hold every one.
  const batchJobsAtOnce = Math.max(4, Math.ceil(config.HOOKRELAY_WORKER_CONCURRENCY / 4));
  const attemptWorkers = [
    new Worker(DELIVERY_QUEUE, processor, attemptWorkerOptions),
    new Worker(RETRY_QUEUE, processor, attemptWorkerOptions),
    new Worker(BATCH_QUEUE, processor, { ...attemptWorkerOptions, concurrency: batchJobsAtOnce }),
  ];
  const deadLetterWorker = new Worker(DEAD_LETTER_QUEUE, createDeadLetterProcessor(db, queues, logger), {
    connection: redis,
    prefix,
    concurrency: 5,
  });
  const maintenanceWorker = new Worker<ReplayDeadJobData, unknown>(
    MAINTENANCE_QUEUE,
    async (job) => {
      if (job.name === RETENTION_JOB) return runRetention(db, queues, config.HOOKRELAY_RETENTION_DAYS, logger);
      const { since, until, ...rest } = job.data;
      const filter = { ...rest, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined };
      const replayed = await replayDeadDeliveries(db, queues, filter, (n) => job.updateProgress({ replayed: n }));
      logger.info({ ...job.data, replayed }, 'bulk replay finished');
      return replayed;
    },
    { connection: redis, prefix, concurrency: 1 },
  );
  for (const w of [...attemptWorkers, deadLetterWorker, maintenanceWorker]) {
    w.on('error', (err) => logger.error({ err }, 'worker error'));
  }

  // One schedule for the whole fleet (upserting is idempotent): an hourly retention pass.
  if (config.HOOKRELAY_RETENTION_DAYS > 0) {
    await queues.maintenance.upsertJobScheduler(
      RETENTION_JOB,
      { every: 60 * 60_000 },
      { name: RETENTION_JOB, data: {}, opts: { removeOnComplete: true, removeOnFail: { age: 24 * 3600 } } },
    );
  } else {
    await queues.maintenance.removeJobScheduler(RETENTION_JOB);
  }

  const reconciler = startReconciler({
    db,
    redis,
    queues,
    prefix: config.HOOKRELAY_REDIS_PREFIX,
    intervalMs: config.HOOKRELAY_RECONCILE_INTERVAL_MS,
    graceMs: config.HOOKRELAY_RECONCILE_GRACE_MS,
    logger,
  });
  logger.info({ concurrency: config.HOOKRELAY_WORKER_CONCURRENCY }, 'worker started');

  return {
    async close() {
      await reconciler.stop();
      let timer: NodeJS.Timeout | undefined;
      const drained = Promise.all([...attemptWorkers, maintenanceWorker].map((w) => w.close())).then(() => true);
      const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), config.HOOKRELAY_SHUTDOWN_TIMEOUT_MS)));
      if (!(await Promise.race([drained, timedOut]))) {
        // Abort in-flight HTTP calls; the processor returns those jobs to the queue unspent.
        logger.warn('shutdown timeout reached; returning in-flight deliveries to the queue');
        for (const w of attemptWorkers) w.cancelAllJobs('shutdown');
        // A replay or retention pass in progress is cut short; the next one carries on from there.
        await maintenanceWorker.close(true);
        await drained;
      }
      clearTimeout(timer);
      await deadLetterWorker.close();
      await recorder.flushed();
      await queues.close();
      await sender.close();
      await redis.quit().catch(() => redis.disconnect());
      await guardRedis.quit().catch(() => guardRedis.disconnect());
      await listening.stop();
      await db.close();
      await metricsServer?.close();
      logger.info('worker stopped');
    },
  };
}
