import { DelayedError, type Job } from 'bullmq';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import {
  OPERATIONAL_EVENT_PREFIX,
  OPERATIONAL_EVENTS,
  effectiveProtection,
  isBackPressureStatus,
  parseRetryAfter,
  retryDelayMs,
  secretKey,
  webhookHeaders,
  type ProtectionSettings,
} from '@hookrelay/domain';
import type { AttemptResult, DeliveryForAttempt, EventForDelivery, SubscriptionForDelivery } from '@hookrelay/db';
import { EndpointHolds, type Admission, type EndpointGuard, type Outcome, type Transition } from '@hookrelay/protection';
import type { WorkerMetrics } from '@hookrelay/metrics';
import { attemptJobId, subscriptionOfJob, type DeadLetterJobData, type DeliveryBatchJobData, type DeliveryJobData } from '@hookrelay/queue';
import type { WebhookResponse, WebhookSender } from './http/send-webhook.ts';
import type { OperationalEvents } from './operational-events.ts';
import { webhookBody } from './payload.ts';
import { KnownProtection } from './known-protection.ts';
import { SlotWaits } from './slot-waits.ts';

export interface ProcessorDeps {
  /** The delivery with its event and subscription, read fresh for each attempt. */
  loadDelivery(id: string): Promise<DeliveryForAttempt | undefined>;
  sender: WebhookSender;
  guard: EndpointGuard;
  /** Resolves once the result is committed to Postgres (group commit). */
  record(result: AttemptResult): Promise<void>;
  /** Queues the next attempt of a delivery after `delayMs`; the job is named after its subscription. */
  scheduleRetry(data: DeliveryJobData, delayMs: number, subscriptionId: string): Promise<void>;
  /** Queues a first attempt that leaves its batch as a job of its own, after `delayMs`. */
  queueFirstAttempt(data: DeliveryJobData, delayMs: number, subscriptionId: string | undefined): Promise<void>;
  /** Which of these first attempts already have a job of their own (they left their batch before). */
  haveOwnJobs(data: DeliveryJobData[]): Promise<boolean[]>;
  deadLetter(data: DeadLetterJobData): Promise<void>;
  disableEndpoint(sub: SubscriptionForDelivery, reason: string): Promise<void>;
  emit: OperationalEvents;
  userAgent: string;
  logger: Logger;
  /** How long an admitted attempt holds its in-flight lease at most: the HTTP timeout plus margin. */
  leaseMs: number;
  /** Delay before retrying a job that hit an infrastructure error (Postgres down, say). */
  infraRetryMs?: number;
  /** Prometheus counters and histograms; absent, nothing is measured. */
  metrics?: WorkerMetrics;
  /** Short in-process waits for a busy endpoint's slot; one per processor when absent. */
  slotWaits?: SlotWaits;
  /** Attempts of batch jobs in progress at once in this process (default 200). */
  batchConcurrency?: number;
  /** The gate's answers about endpoints that take nothing for now; one per processor when absent. */
  holds?: EndpointHolds;
}

/** The gate's answer for one attempt, and whether it is its batch's first answer, holding back every member. */
interface MemberAdmission {
  admission: Admission;
  wholeBatch: boolean;
}

/** An admission asked before the delivery's read, with the protection settings it was judged by. */
interface EarlyAdmission {
  endpointId: string;
  protection: ProtectionSettings;
  admission: Promise<MemberAdmission>;
}

/** Why an attempt did not happen now: it waits `waitMs` off the worker, without using up an attempt. */
interface Deferral {
  waitMs: number;
  /** The batch's first answer, which every member of the batch takes: none of them was attempted. */
  wholeBatch: boolean;
}

/**
 * The members of one batch job share an endpoint: the first to reach the gate asks, the rest wait
 * for its answer. An endpoint that holds the first back for its own reasons holds back all, so the
 * rest take that answer without asking, and the batch waits whole as one job.
 */
interface BatchGate {
  first?: Promise<Admission>;
  /** The lease the first member asked for: the others ask right behind it when they can. */
  firstLeaseId?: string;
  /** Members the batch holds: what the first answer holds back when it holds back the batch. */
  size: number;
}

/**
 * How far an attempt got: held back (a deferral), or made, with `recorded` settling once its
 * result is committed and what follows it (a retry, a dead letter) is queued.
 */
type AttemptRun = { deferral: Deferral; recorded?: never } | { deferral: null; recorded?: Promise<void> };

/** Denials that say the endpoint takes nothing now; a rate-limit denial is one job's own slot. */
const endpointWide = (a: Admission) => !a.allowed && a.reason !== 'rate_limited';

/** The attempt a job runs, with the ids the logs, metrics and dead letters name. */
interface AttemptRef {
  deliveryId: string;
  tenantId: string;
  eventId: string;
  subscriptionId: string;
  /** Attempt number over the delivery's life (1-based). */
  attempt: number;
  /** Position of the attempt within the current round of the retry policy (1-based). */
  roundAttempt: number;
}

function attemptRef(row: DeliveryForAttempt, attempt: number): AttemptRef {
  return {
    deliveryId: row.id,
    tenantId: row.tenantId,
    eventId: row.eventId,
    subscriptionId: row.subscriptionId,
    attempt,
    roundAttempt: attempt - row.roundStart,
  };
}

/** Why a delivery cannot be attempted at all, or null when it can. */
function unattemptable(sub: SubscriptionForDelivery): string | null {
  if (sub.deleted) return 'subscription was deleted';
  if (!sub.enabled) return sub.disabledReason ? `subscription was disabled: ${sub.disabledReason}` : 'subscription is disabled';
  return null;
}

/** A 429 without Retry-After still slows the endpoint down a little. */
const DEFAULT_429_PAUSE_MS = 1_000;

/** Deferred jobs wake a little apart, so a crowd held back together does not return together. */
const withJitter = (waitMs: number) => waitMs + Math.floor(Math.random() * Math.min(1_000, 20 + waitMs * 0.2));

/** Each subscription's signing keys, decoded once: the rows of one read share its object. */
const decodedKeys = new WeakMap<SubscriptionForDelivery, Buffer[]>();

/** While a rotated-out secret's overlap lasts, both sign: the receiver may know either. */
function signingKeys(sub: SubscriptionForDelivery): Buffer[] {
  let keys = decodedKeys.get(sub);
  if (!keys) {
    keys = sub.previousSecret ? [secretKey(sub.secret), secretKey(sub.previousSecret)] : [secretKey(sub.secret)];
    decodedKeys.set(sub, keys);
  }
  return keys;
}

/** How the endpoint's breaker should read an answer. */
function outcomeOf(res: WebhookResponse, ok: boolean): Outcome {
  if (ok) return 'success';
  // A 429 says "slow down", not "broken": it pauses the endpoint but does not trip the breaker.
  if (res.statusCode === 429) return 'neutral';
  return 'failure';
}

export function createDeliveryProcessor(deps: ProcessorDeps) {
  const { logger } = deps;

  const slotWaits = deps.slotWaits ?? new SlotWaits();
  const holds = deps.holds ?? new EndpointHolds();

  /** Asks the gate; an endpoint at its in-flight cap gets a short wait here before the job is deferred. */
  async function admit(endpointId: string, protection: ProtectionSettings, leaseId: string, jobs = 1, asked?: Admission): Promise<Admission> {
    let admission = asked ?? (await deps.guard.acquire(endpointId, protection, leaseId, deps.leaseMs, { jobs }));
    const giveUpAt = Date.now() + slotWaits.maxWaitMs;
    while (!admission.allowed && admission.reason === 'max_in_flight' && Date.now() < giveUpAt && slotWaits.canWait(endpointId)) {
      await slotWaits.wait(endpointId, giveUpAt - Date.now());
      admission = await deps.guard.acquire(endpointId, protection, leaseId, deps.leaseMs, { again: true });
    }
    // A full cap expected to free a slot sooner than a short wait here is not worth remembering:
    // the next jobs wait for it in this process instead.
    if (!admission.allowed && (admission.reason !== 'max_in_flight' || (admission.hold?.holdMs ?? 0) >= slotWaits.maxWaitMs)) {
      holds.remember(endpointId, admission, jobs);
      deps.guard.announceHold(endpointId, admission, jobs);
    }
    return admission;
  }

  /** Each endpoint's protection settings as its last read found them, for `askEarly`. */
  const knownProtection = new KnownProtection();
  /** Worked out once per read: the rows of one read share their subscription's object. */
  const protections = new WeakMap<SubscriptionForDelivery, ProtectionSettings>();
  function protectionOf(sub: SubscriptionForDelivery): ProtectionSettings {
    let protection = protections.get(sub);
    if (!protection) {
      protection = knownProtection.remember(sub.id, effectiveProtection(sub, sub.tenantSettings));
      protections.set(sub, protection);
    }
    return protection;
  }

  /**
   * Asks the gate while the delivery is read, with the endpoint's protection as last read, when
   * the job names its endpoint: the request goes one round trip sooner. `attemptOne` checks the
   * guess against the read and withdraws the admission when it does not apply.
   */
  function askEarly(endpointId: string | undefined, leaseId: string, gate: BatchGate | undefined): EarlyAdmission | undefined {
    const protection = endpointId === undefined ? undefined : knownProtection.get(endpointId);
    if (endpointId === undefined || protection === undefined) return undefined;
    const admission = admitMember(gate, endpointId, protection, leaseId);
    // Awaited by the attempt, or by `withdraw`; marked handled now in case the read fails first.
    admission.catch(() => {});
    return { endpointId, protection, admission };
  }

  /** Frees the lease of an early admission that will not be used (a refusal holds nothing). */
  async function withdraw(early: EarlyAdmission | undefined, leaseId: string) {
    const asked = early && (await early.admission.catch(() => null));
    if (asked?.admission.allowed) await deps.guard.record(early!.endpointId, early!.protection, leaseId, 'neutral');
  }

  /**
   * The admission to go by once the read is in: the early one when it was asked for this endpoint
   * with the settings read; otherwise the early lease is freed and the gate asked now.
   */
  async function confirmAdmission(
    early: EarlyAdmission | undefined,
    gate: BatchGate | undefined,
    endpointId: string,
    protection: ProtectionSettings,
    leaseId: string,
  ): Promise<MemberAdmission> {
    if (!early) return admitMember(gate, endpointId, protection, leaseId);
    if (early.endpointId === endpointId && early.protection === protection) return early.admission;
    await withdraw(early, leaseId);
    // Alone: the batch's first answer was asked with other settings.
    return { admission: await admit(endpointId, protection, leaseId), wholeBatch: false };
  }

  /** Answers the admission, and whether it is the batch's first answer that holds back every member. */
  async function admitMember(
    gate: BatchGate | undefined,
    endpointId: string,
    protection: ProtectionSettings,
    leaseId: string,
  ): Promise<MemberAdmission> {
    if (!gate) return { admission: await admit(endpointId, protection, leaseId), wholeBatch: false };
    if (!gate.first) {
      // Asked for the whole batch: refused, it holds back every member, and they count as waiting.
      gate.firstLeaseId = leaseId;
      const admission = await (gate.first = admit(endpointId, protection, leaseId, gate.size));
      return { admission, wholeBatch: endpointWide(admission) };
    }
    // Members that reach the gate in the first's turn (their reads come back together) ask in the
    // same round trip, right behind it; the gate answers them only if the first may go.
    const together = await deps.guard.acquireAfter(gate.firstLeaseId!, endpointId, protection, leaseId, deps.leaseMs);
    if (together) return { admission: await admit(endpointId, protection, leaseId, 1, together), wholeBatch: false };
    const first = await gate.first.catch(() => null);
    if (first && endpointWide(first)) return { admission: first, wholeBatch: true };
    return { admission: await admit(endpointId, protection, leaseId), wholeBatch: false };
  }

  /**
   * Makes the attempt if it is still owed and the endpoint admits it; answers a deferral if not
   * admitted. `batch`: the batch job asking, which owes the attempt only while the delivery is
   * still its member, and the gate its members share.
   */
  async function attemptOne(
    deliveryId: string,
    attempt: number,
    signal?: AbortSignal,
    batch?: { id: string | undefined; gate: BatchGate },
    endpointId?: string,
  ): Promise<AttemptRun> {
    // Unique while the attempt is owed, whichever job (its own or a batch) runs it.
    const leaseId = attemptJobId(deliveryId, attempt);
    const early = askEarly(endpointId, leaseId, batch?.gate);
    let row: DeliveryForAttempt | undefined;
    try {
      row = await deps.loadDelivery(deliveryId);
    } catch (err) {
      await withdraw(early, leaseId);
      throw err;
    }
    // A leftover job (re-enqueued just as its delivery finished, or for an attempt already made,
    // or a batch job still queued when its member was ended and replayed in a round of its own)
    // must not send again.
    if (row?.status !== 'pending' || row.attemptCount >= attempt || (batch !== undefined && row.batchId !== batch.id)) {
      const progress = row && { status: row.status, attemptCount: row.attemptCount };
      logger.debug({ deliveryId, attempt, progress }, 'attempt no longer owed; job dropped');
      await withdraw(early, leaseId);
      return { deferral: null };
    }
    const data = attemptRef(row, attempt);
    const { event, subscription: sub } = row;

    const blocked = unattemptable(sub);
    if (blocked) {
      await withdraw(early, leaseId);
      await finishDead(data, data.attempt - 1, null, blocked, event.type, null);
      return { deferral: null };
    }
    const protection = protectionOf(sub);
    const { admission, wholeBatch } = await confirmAdmission(early, batch?.gate, sub.id, protection, leaseId);
    if (!admission.allowed) {
      // Held back by the endpoint's limits: wait off the worker, without using up an attempt.
      logger.debug({ deliveryId: data.deliveryId, reason: admission.reason, waitMs: admission.waitMs }, 'delivery deferred');
      deps.metrics?.deferrals.inc({ reason: admission.reason });
      // A rate-limit wait is already a slot of its own; jitter would only waste it.
      const waitMs = admission.reason === 'rate_limited' ? admission.waitMs : withJitter(admission.waitMs);
      return { deferral: { waitMs, wholeBatch } };
    }

    slotWaits.started(sub.id);
    try {
      let res: WebhookResponse;
      const startedAt = new Date();
      try {
        res = await send(event, sub, startedAt, signal);
      } catch (err) {
        await deps.guard.record(sub.id, protection, leaseId, 'neutral');
        slotWaits.released(sub.id);
        holds.forget(sub.id);
        throw err;
      }
      const settled = await releaseAttempt(sub, protection, leaseId, res);
      const recorded = recordAttempt(data, event, sub, startedAt, res, settled);
      // Awaited by the job; marked handled now so a failure before that is not reported as unhandled.
      recorded.catch(() => {});
      return { deferral: null, recorded };
    } finally {
      slotWaits.finished(sub.id);
    }
  }

  const batchSlots = pLimit(deps.batchConcurrency ?? 200);

  /**
   * When the job's endpoint takes nothing for now, as the gate said moments ago, the job's
   * deferral (a batch waits whole), without a read or a gate call; null otherwise.
   */
  function heldBack(job: Job, endpointId: string | undefined, jobs: number): Deferral | null {
    const held = endpointId === undefined ? null : holds.holdBack(endpointId, jobs);
    if (!held) return null;
    logger.debug({ jobId: job.id, reason: held.reason, waitMs: held.waitMs }, 'delivery deferred');
    deps.metrics?.deferrals.inc({ reason: held.reason }, jobs);
    deps.metrics?.rememberedDeferrals.inc({ reason: held.reason }, jobs);
    return { waitMs: withJitter(held.waitMs), wholeBatch: 'deliveries' in (job.data as object) };
  }

  /**
   * A batch job runs its deliveries' first attempts side by side (within this process's batch
   * slots). When the endpoint holds back the first member to ask for its own reasons (an open
   * breaker, a Retry-After, its in-flight cap), nothing of the batch is attempted and the batch
   * waits whole: one delayed job, not one per member. Otherwise what cannot happen now leaves the
   * batch at once as a job of its own: a deferral after its wait, an interrupted attempt (a fault,
   * or shutdown) after the fault delay. So a batch job completes once every member is attempted
   * or handed on; a run after a whole wait, a crash or Redis failing a hand-on leaves alone the
   * members that have a job of their own.
   */
  async function deliverBatch(job: Job<DeliveryBatchJobData>, signal?: AbortSignal): Promise<Deferral | null> {
    let members = job.data.deliveries;
    const endpointId = subscriptionOfJob(job.name);
    const held = heldBack(job, endpointId, members.length);
    if (held) return held;
    if (job.attemptsStarted > 1 || job.stalledCounter > 0) {
      const handedOn = await deps.haveOwnJobs(members.map((delivery) => ({ delivery, attempt: 1 })));
      members = members.filter((_, i) => !handedOn[i]);
    }
    // At once, not when the batch ends: its wait starts now, whatever its neighbours are doing.
    const handOn = (delivery: string, delayMs: number) => deps.queueFirstAttempt({ delivery, attempt: 1 }, delayMs, endpointId);
    const batch: { id: string | undefined; gate: BatchGate } = { id: job.id, gate: { size: members.length } };
    let whole: Deferral | null = null;
    const settled = await Promise.allSettled(
      members.map((id) =>
        // A slot is held from the read to the lease's release at the gate; the result's commit
        // (a group commit that lingers) is waited for outside it, so slots go to HTTP calls.
        batchSlots(async () => {
          // Cancelled (shutdown) while waiting for a slot: hand it on without touching the endpoint.
          if (signal?.aborted) throw new Error('the batch was cancelled before this attempt started');
          return attemptOne(id, 1, signal, batch, endpointId);
        }).then(async ({ deferral, recorded }) => {
          await recorded;
          // Stays a member: the batch comes back whole, at the soonest of its members' waits.
          if (deferral?.wholeBatch) whole = whole && whole.waitMs <= deferral.waitMs ? whole : deferral;
          else if (deferral) await handOn(id, deferral.waitMs);
        }).catch(async (err: unknown) => {
          logger.error({ err, deliveryId: id }, 'delivery interrupted; returning it to the queue');
          await handOn(id, signal?.aborted ? 0 : (deps.infraRetryMs ?? 5_000));
        }),
      ),
    );
    // A member that could not be handed on (Redis failed) still belongs to the batch: it goes
    // back to the queue whole, and its next run leaves alone the members handed on already.
    const lost = settled.find((r) => r.status === 'rejected');
    if (lost) throw lost.reason;
    return whole;
  }

  function send(event: EventForDelivery, sub: SubscriptionForDelivery, startedAt: Date, signal?: AbortSignal) {
    const body = webhookBody(event);
    const headers = {
      ...sub.headers,
      'content-type': 'application/json',
      'user-agent': deps.userAgent,
      ...webhookHeaders(signingKeys(sub), { msgId: event.id, timestamp: Math.floor(startedAt.getTime() / 1000), body }),
    };
    return deps.sender.send({ url: sub.url, headers, body }, signal);
  }

  /** Reports the answer to the gate (freeing the lease); answers what the rest of the attempt needs. */
  async function releaseAttempt(sub: SubscriptionForDelivery, protection: ProtectionSettings, leaseId: string, res: WebhookResponse) {
    const ok = res.statusCode !== null && res.statusCode >= 200 && res.statusCode < 300;
    const retryAfterMs = isBackPressureStatus(res.statusCode)
      ? (parseRetryAfter(res.retryAfter, Date.now()) ?? (res.statusCode === 429 ? DEFAULT_429_PAUSE_MS : null))
      : null;
    const gone = res.statusCode === 410 && sub.disableOnGone;
    const { transition } = await deps.guard.record(sub.id, protection, leaseId, outcomeOf(res, ok), {
      retryAfterMs: retryAfterMs ?? 0,
      disableNow: gone,
    });
    slotWaits.released(sub.id);
    holds.forget(sub.id);
    return { ok, retryAfterMs, gone, transition };
  }

  /** Records a made attempt in Postgres and queues what follows it: a retry, or a dead letter. */
  async function recordAttempt(
    data: AttemptRef,
    event: EventForDelivery,
    sub: SubscriptionForDelivery,
    startedAt: Date,
    res: WebhookResponse,
    { ok, retryAfterMs, gone, transition }: Awaited<ReturnType<typeof releaseAttempt>>,
  ): Promise<void> {
    const error = ok ? null : (res.error ?? `receiver answered ${res.statusCode}`);
    deps.metrics?.attemptDuration.observe(res.durationMs / 1000);
    // Every attempt is recorded in Postgres and counted in the metrics. A line per success cost about
    // a sixth of the worker's CPU per delivery, so successes are logged at debug; failures at info.
    if (!ok || logger.isLevelEnabled('debug')) {
      const line = {
        tenantId: data.tenantId,
        eventId: data.eventId,
        deliveryId: data.deliveryId,
        subscriptionId: sub.id,
        attempt: data.attempt,
        status: res.statusCode,
        durationMs: res.durationMs,
        ok,
      };
      if (ok) logger.debug(line, 'delivery attempt succeeded');
      else logger.info({ ...line, error }, 'delivery attempt failed');
    }

    const attempt = {
      deliveryId: data.deliveryId,
      tenantId: data.tenantId,
      attempt: data.attempt,
      startedAt,
      durationMs: res.durationMs,
      statusCode: res.statusCode,
      responseBody: res.responseBody,
      error,
    };
    if (ok) {
      await deps.record({ ...attempt, status: 'succeeded', nextAttemptAt: null });
      deps.metrics?.deliveries.inc({ outcome: 'succeeded' });
      const answeredAt = startedAt.getTime() + (res.firstByteMs ?? res.durationMs);
      deps.metrics?.deliveryLatency.observe(Math.max(0, answeredAt - event.timestamp.getTime()) / 1000);
    } else {
      const policyDelay = gone ? null : retryDelayMs(sub.retryPolicy, data.roundAttempt);
      if (policyDelay === null) {
        const reason = gone
          ? `receiver answered 410 Gone`
          : `gave up after ${data.roundAttempt} attempt${data.roundAttempt === 1 ? '' : 's'}: ${error}`;
        await finishDead(data, data.attempt, res.statusCode, reason, event.type, attempt);
      } else {
        // A receiver's Retry-After is a floor under the policy's own delay.
        const delay = Math.max(policyDelay, retryAfterMs ?? 0);
        await deps.record({ ...attempt, status: 'pending', nextAttemptAt: new Date(Date.now() + delay) });
        deps.metrics?.deliveries.inc({ outcome: 'failed_will_retry' });
        const next: DeliveryJobData = { delivery: data.deliveryId, attempt: data.attempt + 1 };
        await deps.scheduleRetry(next, delay, sub.id).catch((err) => {
          // Postgres already says when it is due: the reconciler enqueues it if Redis did not take it.
          logger.warn({ err, deliveryId: data.deliveryId }, 'could not queue the retry; the reconciler will');
        });
      }
    }
    await onTransition(transition, sub, res);
  }

  async function onTransition(transition: Transition, sub: SubscriptionForDelivery, res: WebhookResponse) {
    if (transition) deps.metrics?.breakerTransitions.inc({ transition });
    const base = { subscriptionId: sub.id, url: sub.url, lastStatusCode: res.statusCode, lastError: res.error };
    if (transition === 'opened') {
      logger.warn({ subscriptionId: sub.id }, 'circuit opened');
      await deps.emit(sub.tenantId, OPERATIONAL_EVENTS.circuitOpened, base);
    } else if (transition === 'recovered') {
      logger.info({ subscriptionId: sub.id }, 'endpoint recovered');
      await deps.emit(sub.tenantId, OPERATIONAL_EVENTS.endpointRecovered, { subscriptionId: sub.id, url: sub.url });
    } else if (transition === 'disable') {
      const reason =
        res.statusCode === 410 && sub.disableOnGone ? 'receiver answered 410 Gone' : 'endpoint kept failing for the auto-disable period';
      await deps.disableEndpoint(sub, reason);
    }
  }

  async function finishDead(
    data: AttemptRef,
    attempts: number,
    lastStatusCode: number | null,
    reason: string,
    eventType: string,
    attemptRow: Omit<AttemptResult, 'status' | 'nextAttemptAt'> | null,
  ): Promise<void> {
    await deps.record(
      attemptRow
        ? { ...attemptRow, status: 'dead', nextAttemptAt: null, deliveryError: reason }
        : {
            deliveryId: data.deliveryId,
            tenantId: data.tenantId,
            attempt: attempts,
            startedAt: new Date(),
            durationMs: 0,
            statusCode: null,
            responseBody: null,
            error: reason,
            status: 'dead',
            nextAttemptAt: null,
            skipAttemptRow: true,
          },
    );
    deps.metrics?.deliveries.inc({ outcome: 'dead' });
    await deps.deadLetter({
      deliveryId: data.deliveryId,
      tenantId: data.tenantId,
      eventId: data.eventId,
      subscriptionId: data.subscriptionId,
      attempts,
      lastStatusCode,
      reason,
      diedAt: new Date().toISOString(),
    });
    logger.warn({ tenantId: data.tenantId, deliveryId: data.deliveryId, reason }, 'delivery is dead');
    // Never about a delivery of an operational event: a failing hookrelay.* subscriber would loop.
    if (!eventType.startsWith(OPERATIONAL_EVENT_PREFIX)) {
      await deps.emit(data.tenantId, OPERATIONAL_EVENTS.deliveryDead, {
        deliveryId: data.deliveryId,
        eventId: data.eventId,
        eventType,
        subscriptionId: data.subscriptionId,
        attempts,
        lastStatusCode,
        reason,
      });
    }
  }

  /**
   * The BullMQ processor, for single jobs and batch jobs alike. A finished attempt always
   * completes the job: the next attempt, if any, is a new job on the retry queue. Anything
   * unexpected is an infrastructure fault or a shutdown: the job goes back to the queue without
   * using up an attempt.
   */
  return async function process(job: Job<DeliveryJobData | DeliveryBatchJobData>, token?: string, signal?: AbortSignal): Promise<void> {
    let deferral: Deferral | null;
    try {
      if ('deliveries' in job.data) deferral = await deliverBatch(job as Job<DeliveryBatchJobData>, signal);
      else {
        deferral = heldBack(job, subscriptionOfJob(job.name), 1);
        if (!deferral) {
          const run = await attemptOne(job.data.delivery, job.data.attempt, signal, undefined, subscriptionOfJob(job.name));
          await run.recorded;
          deferral = run.deferral;
        }
      }
    } catch (err) {
      const delay = signal?.aborted ? 0 : (deps.infraRetryMs ?? 5_000);
      const which = 'delivery' in job.data ? { deliveryId: job.data.delivery } : { batchId: job.id };
      logger.error({ err, ...which }, 'delivery interrupted; returning it to the queue');
      deferral = { waitMs: delay, wholeBatch: false };
    }
    if (deferral) {
      await job.moveToDelayed(Date.now() + deferral.waitMs, token);
      throw new DelayedError();
    }
  };
}
