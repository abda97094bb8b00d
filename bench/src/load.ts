import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { sleep } from './stats.ts';

export interface ClosedLoopResult {
  concurrency: number;
  /** 2xx answers per second over the run. */
  perSecond: number;
  ok: number;
  non2xx: number;
  errors: number;
  latency: { p50: number; p99: number; max: number };
}

/** Closed-loop load with autocannon: `concurrency` connections posting `body` for `seconds`. */
export async function closedLoop(
  url: string,
  { concurrency, seconds, body, headers = {} }: { concurrency: number; seconds: number; body: string; headers?: Record<string, string> },
): Promise<ClosedLoopResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: concurrency,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const elapsed = (result.finish.getTime() - result.start.getTime()) / 1000;
  return {
    concurrency,
    perSecond: Math.round(result['2xx'] / elapsed),
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latency: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  };
}

export interface Published {
  /** Event id → when the request went out and when its 202 arrived (performance.now() ms). */
  accepted: Map<string, { index: number; sentAt: number; acceptedAt: number }>;
  failed: number;
  /** The rate actually achieved, events/s. */
  achievedRate: number;
}

/**
 * Open-loop load: publishes at `rate` events/s for `seconds` whatever the answers' speed (a slow
 * answer does not slow the sender, as real traffic would not), each event's type from `typeOf`.
 */
export async function openLoop(
  baseUrl: string,
  apiKey: string,
  { rate, seconds, typeOf, body }: { rate: number; seconds: number; typeOf: (i: number) => string; body: (type: string) => string },
): Promise<Published> {
  const pool = new Pool(baseUrl, { connections: 256 });
  const accepted: Published['accepted'] = new Map();
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  const publish = async (i: number) => {
    const sentAt = performance.now();
    try {
      const res = await pool.request({
        path: '/v1/events',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: body(typeOf(i)),
      });
      const acceptedAt = performance.now();
      const answer = (await res.body.json()) as { id?: string };
      if (res.statusCode === 202 && answer.id) accepted.set(answer.id, { index: i, sentAt, acceptedAt });
      else failed++;
    } catch {
      failed++;
    }
  };
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const p = publish(sent).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(1);
  }
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(inFlight);
  await pool.close();
  return { accepted, failed, achievedRate: Math.round(total / elapsed) };
}
