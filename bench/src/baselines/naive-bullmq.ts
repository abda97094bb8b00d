/**
 * Baseline 2, naive BullMQ: what a user would hand-roll instead of Hookrelay. One queue filled with
 * addBulk (the 1 KiB payload inside each job), one worker posting each job with undici, no
 * database: no attempt history, no per-endpoint limits, nothing to replay from.
 *
 * With `databaseUrl`, the same worker also keeps an attempt history as a hand-rolled one would:
 * each job inserts its attempt as a row of its own (autocommit, a primary key and nothing else)
 * before it completes. Shown beside the targets for reference, never judged by them.
 */
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { Pool } from 'undici';
import { redisKeysMemory } from '../redis-memory.ts';
import { samplePayload, signedWebhook } from '../payload.ts';
import { percentiles } from '../stats.ts';

const { url, count, concurrency, redisUrl, prefix, databaseUrl } = JSON.parse(process.argv[2]!) as {
  url: string;
  count: number;
  concurrency: number;
  redisUrl: string;
  prefix: string;
  databaseUrl?: string;
};
const sql = databaseUrl ? postgres(databaseUrl, { onnotice: () => {} }) : undefined;
await sql?.unsafe(`create table naive_attempts (
  id bigint generated always as identity primary key,
  job_id text not null,
  url text not null,
  status_code integer not null,
  duration_ms double precision not null,
  started_at timestamptz not null
)`);
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue('naive', { connection, prefix });
// Measured as the backlog scenario measures ours: the memory of this queue's own keys.
const memoryBefore = await redisKeysMemory(connection, `${prefix}:naive:*`);
for (let i = 0; i < count; i += 1000) {
  const n = Math.min(1000, count - i);
  await queue.addBulk(
    Array.from({ length: n }, () => ({
      name: 'deliver',
      data: { url: `${url}/naive`, payload: samplePayload() },
      opts: { removeOnComplete: true, removeOnFail: true },
    })),
  );
}
const memoryAfter = await redisKeysMemory(connection, `${prefix}:naive:*`);

const pool = new Pool(url, { connections: concurrency });
const latencies: number[] = [];
let done = 0;
let finished: () => void;
const allDone = new Promise<void>((r) => (finished = r));
// The bench measures every process's CPU from here to `drained`: the drain, not the filling.
process.send!({ draining: true });
const started = performance.now();
const worker = new Worker(
  'naive',
  async (job) => {
    const { body, headers } = signedWebhook();
    const startedAt = new Date();
    const t = performance.now();
    const res = await pool.request({ path: new URL(job.data.url).pathname, method: 'POST', headers, body });
    await res.body.dump();
    const ms = performance.now() - t;
    latencies.push(ms);
    if (sql) {
      await sql`insert into naive_attempts (job_id, url, status_code, duration_ms, started_at)
                values (${job.id!}, ${job.data.url}, ${res.statusCode}, ${ms}, ${startedAt})`;
    }
    if (res.statusCode >= 300) throw new Error(`receiver answered ${res.statusCode}`);
    if (++done === count) finished();
  },
  { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix, concurrency },
);
await allDone;
const elapsedMs = performance.now() - started;
// Before closing anything: a Postgres backend that has exited can no longer be measured.
process.send!({ drained: true });
const recorded = sql ? Number((await sql`select count(*) as n from naive_attempts`)[0]!.n) : undefined;
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
await pool.close();
await sql?.end();
connection.disconnect();
process.send!({
  result: { count, elapsedMs, perSecond: (count / elapsedMs) * 1000, latency: percentiles(latencies), redisBytesPerJob: (memoryAfter - memoryBefore) / count, recorded },
});
process.disconnect();
