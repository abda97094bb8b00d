/**
 * Baseline 1, raw HTTP: one Node process posting signed 1 KiB JSON bodies straight to the
 * receiver with undici at fixed concurrency. Nothing between the sender and the receiver: the
 * most deliveries this machine could make.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { signedWebhook } from '../payload.ts';
import { percentiles } from '../stats.ts';

const { url, count, concurrency } = JSON.parse(process.argv[2]!) as { url: string; count: number; concurrency: number };
const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
const latencies: number[] = [];
let next = 0;
let failed = 0;

async function loop() {
  while (next < count) {
    next++;
    const { body, headers } = signedWebhook();
    const started = performance.now();
    const res = await pool.request({ path: '/raw', method: 'POST', headers, body });
    await res.body.dump();
    latencies.push(performance.now() - started);
    if (res.statusCode !== 200) failed++;
  }
}

// The bench measures every process's CPU from here to `drained`.
process.send!({ draining: true });
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, loop));
const elapsedMs = performance.now() - started;
process.send!({ drained: true });
await pool.close();
process.send!({ result: { count, failed, elapsedMs, perSecond: (count / elapsedMs) * 1000, latency: percentiles(latencies) } });
process.disconnect();
