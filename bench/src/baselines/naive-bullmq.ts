/**
 * Baseline 2, naive BullMQ: what a user would hand-roll instead of Hookrelay. One queue filled with
 * addBulk (the 1 KiB payload inside each job), one worker posting each job with undici, no
 * database: no attempt history, no per-endpoint limits, nothing to replay from.
 */
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { redisKeysMemory } from '../redis-memory.ts';
import { samplePayload, signedWebhook } from '../payload.ts';
import { percentiles } from '../stats.ts';

const { url, count, concurrency, redisUrl, prefix } = JSON.parse(process.argv[2]!) as {
  url: string;
  count: number;
  concurrency: number;
  redisUrl: string;
  prefix: string;
};
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
const started = performance.now();
const cpuAtStart = process.cpuUsage();
const worker = new Worker(
  'naive',
  async (job) => {
    const { body, headers } = signedWebhook();
    const t = performance.now();
    const res = await pool.request({ path: new URL(job.data.url).pathname, method: 'POST', headers, body });
    await res.body.dump();
    latencies.push(performance.now() - t);
    if (res.statusCode >= 300) throw new Error(`receiver answered ${res.statusCode}`);
    if (++done === count) finished();
  },
  { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix, concurrency },
);
await allDone;
const elapsedMs = performance.now() - started;
const cpu = process.cpuUsage(cpuAtStart);
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
await pool.close();
connection.disconnect();
process.send!({
  result: {
    count,
    elapsedMs,
    perSecond: (count / elapsedMs) * 1000,
    latency: percentiles(latencies),
    redisBytesPerJob: (memoryAfter - memoryBefore) / count,
    cpuMsPerJob: (cpu.user + cpu.system) / 1000 / count,
  },
});
process.disconnect();
