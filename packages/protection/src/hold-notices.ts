import type { Redis } from 'ioredis';
import { queuePrefix } from '@hookrelay/queue';
import type { Admission, DenyReason } from './endpoint-guard.ts';
import type { EndpointHolds } from './endpoint-holds.ts';

/**
 * Holds the gate answered, told to every API and worker process over Redis pub/sub. The API adds
 * the jobs of events published to an endpoint that takes nothing for now (a Retry-After pause, an
 * open breaker, a full cap slow to free a slot) already delayed to when a worker would have sent
 * them back: otherwise each such job costs a worker a fetch and a move back to the delayed set, as
 * much as a delivery, before it waits. The other workers hold that endpoint's jobs back without
 * asking the gate themselves. A reset (a subscription re-enabled or deleted) voids what every
 * process remembers at once. A notice is a hint: one lost (a dropped connection) only means a
 * worker holds those jobs back itself, and one is trusted no longer than a worker trusts its own
 * memory (`EndpointHolds`).
 */
export const holdChannel = (prefixName: string) => `${queuePrefix(prefixName)}:endpoint-holds`;

type Denial = Extract<Admission, { allowed: false }>;

/** `{e}` alone: forget the endpoint (reset by a tenant). `o`: the gate client that announced a hold. */
interface Notice {
  e: string;
  o?: string;
  r?: DenyReason;
  w?: number;
  h?: number;
  s?: number;
  j?: number;
}

const REASONS: ReadonlySet<string> = new Set<DenyReason>(['retry_after', 'circuit_open', 'circuit_probing', 'max_in_flight', 'rate_limited']);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The message for a hold the gate answered for `jobs` jobs (see `EndpointGuard.announceHold`). */
export function holdNotice(endpointId: string, admission: Denial & { hold: NonNullable<Denial['hold']> }, jobs: number, origin?: string): string {
  const n: Notice = { e: endpointId, ...(origin ? { o: origin } : {}), r: admission.reason, w: admission.waitMs, h: admission.hold.holdMs, s: admission.hold.spacingMs, j: jobs };
  return JSON.stringify(n);
}

/** The message that voids whatever is remembered of an endpoint (see `EndpointGuard.reset`). */
export const resetNotice = (endpointId: string): string => JSON.stringify({ e: endpointId } satisfies Notice);

/**
 * Applies one notice to `holds`; anything malformed is ignored, and so are holds announced by
 * `self` (a worker remembers its own answers already, and would count their jobs twice).
 */
export function applyHoldNotice(holds: EndpointHolds, message: string, self?: string): void {
  let n: Notice;
  try {
    n = JSON.parse(message) as Notice;
  } catch {
    return;
  }
  if (typeof n !== 'object' || n === null || typeof n.e !== 'string' || n.e.length === 0) return;
  if (n.r === undefined) {
    holds.forget(n.e);
    return;
  }
  if (self !== undefined && n.o === self) return;
  if (!REASONS.has(n.r) || !isCount(n.w) || !isCount(n.h) || !isCount(n.s) || !isCount(n.j)) return;
  holds.remember(n.e, { allowed: false, reason: n.r, waitMs: n.w, hold: { holdMs: n.h, spacingMs: n.s } }, n.j);
}

/**
 * Keeps `holds` up to date from the notices, on `subscriber`: a connection of its own (a
 * subscribed connection takes no other commands) that waits out Redis outages; ioredis
 * subscribes again after a reconnect. `self`: the origin of this process's own gate client
 * (`EndpointGuard.origin`), whose hold notices are skipped. `subscribed` settles once Redis has
 * taken the subscription.
 */
export function listenForHolds(
  subscriber: Redis,
  prefixName: string,
  holds: EndpointHolds,
  self?: string,
): { subscribed: Promise<void>; stop(): Promise<void> } {
  const channel = holdChannel(prefixName);
  const onMessage = (from: string, message: string) => {
    if (from === channel) applyHoldNotice(holds, message, self);
  };
  subscriber.on('message', onMessage);
  const subscribed = subscriber.subscribe(channel).then(() => {});
  return {
    subscribed,
    async stop() {
      subscriber.off('message', onMessage);
      // Not QUIT: a subscriber has nothing to flush, and a Redis that hangs would never answer it.
      subscriber.disconnect();
    },
  };
}
