import type { Context } from '../context.ts';
import { openLoop, type Published } from '../load.ts';
import { publishBody } from '../payload.ts';
import { waitUntil } from '../stats.ts';

export interface Measured {
  published: Published;
  /** 202 → the receiver's first byte, in ms, per event that had to reach the receiver. */
  fromAccepted: number[];
  /** Request sent → the receiver's first byte. */
  fromSent: number[];
  /** Events that had to arrive and did not within the settle time. */
  missing: number;
}

/**
 * Publishes open-loop at `rate` and waits (up to `settleMs`) for the events whose type
 * `mustArrive` accepts to reach the receiver. Latencies are on the driver's clock, which the
 * in-process receiver shares.
 */
export async function publishAndMeasure(
  ctx: Context,
  baseUrl: string,
  apiKey: string,
  { rate, seconds, typeOf, mustArrive = () => true, settleMs = 30_000 }: {
    rate: number;
    seconds: number;
    typeOf: (i: number) => string;
    mustArrive?: (type: string) => boolean;
    settleMs?: number;
  },
): Promise<Measured> {
  const published = await openLoop(baseUrl, apiKey, { rate, seconds, typeOf, body: publishBody });
  const expected = [...published.accepted].filter(([, p]) => mustArrive(typeOf(p.index)));
  await waitUntil(() => expected.every(([id]) => ctx.receiver.arrivals.has(id)), settleMs, 50);
  const fromAccepted: number[] = [];
  const fromSent: number[] = [];
  let missing = 0;
  for (const [id, times] of expected) {
    const at = ctx.receiver.arrivals.get(id);
    if (at === undefined) {
      missing++;
      continue;
    }
    // The job is queued before the 202 is written, so a fast delivery can beat the 202 back to
    // the driver: that counts as no wait at all.
    fromAccepted.push(Math.max(0, at - times.acceptedAt));
    fromSent.push(at - times.sentAt);
  }
  return { published, fromAccepted, fromSent, missing };
}
