import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { retryDelayMs, secretKey, webhookHeaders } from '@hookrelay/domain';
import type { AttemptResult, EventForDelivery, SubscriptionForDelivery } from '@hookrelay/db';
import type { DeadLetterJobData, DeliveryJobData } from '@hookrelay/queue';
import type { WebhookSender } from './http/send-webhook.ts';
import { webhookBody } from './payload.ts';

/** Thrown after a failed attempt that will be retried; BullMQ's backoff reads the delay from it. */
export class AttemptFailedError extends Error {
  override name = 'AttemptFailedError';
  constructor(
    message: string,
    readonly retryDelayMs: number,
  ) {
    super(message);
  }
}

export interface ProcessorDeps {
  loadEvent(id: string): Promise<EventForDelivery | undefined>;
  loadSubscription(id: string): Promise<SubscriptionForDelivery | undefined>;
  sender: WebhookSender;
  /** Resolves once the result is committed to Postgres (group commit). */
  record(result: AttemptResult): Promise<void>;
  deadLetter(data: DeadLetterJobData): Promise<void>;
  userAgent: string;
  logger: Logger;
  /** Delay before retrying a job that hit an infrastructure error (Postgres down, say). */
  infraRetryMs?: number;
}

/** Why a delivery cannot be attempted at all, or null when it can. */
function unattemptable(event: EventForDelivery | undefined, sub: SubscriptionForDelivery | undefined): string | null {
  if (!event) return 'event no longer exists';
  if (!sub || sub.deleted) return 'subscription was deleted';
  if (!sub.enabled) return 'subscription is disabled';
  return null;
}

export function createDeliveryProcessor(deps: ProcessorDeps) {
  const { logger } = deps;

  async function attemptDelivery(job: Job<DeliveryJobData>, signal?: AbortSignal): Promise<void> {
    const data = job.data;
    const attempt = data.attempt + job.attemptsMade;
    const roundAttempt = data.roundAttempt + job.attemptsMade;
    const [event, sub] = await Promise.all([deps.loadEvent(data.eventId), deps.loadSubscription(data.subscriptionId)]);

    const blocked = unattemptable(event, sub);
    if (blocked) {
      await finishDead(data, attempt - 1, null, blocked, { skipAttemptRow: true });
      throw new UnrecoverableError(blocked);
    }

    const startedAt = new Date();
    const body = webhookBody(event!);
    const headers = {
      ...sub!.headers,
      'content-type': 'application/json',
      'user-agent': deps.userAgent,
      ...webhookHeaders(secretKey(sub!.secret), {
        msgId: event!.id,
        timestamp: Math.floor(startedAt.getTime() / 1000),
        body,
      }),
    };
    const res = await deps.sender.send({ url: sub!.url, headers, body }, signal);
    const ok = res.statusCode !== null && res.statusCode >= 200 && res.statusCode < 300;
    const error = ok ? null : (res.error ?? `receiver answered ${res.statusCode}`);
    const base = {
      deliveryId: data.deliveryId,
      tenantId: data.tenantId,
      attempt,
      startedAt,
      durationMs: res.durationMs,
      statusCode: res.statusCode,
      responseBody: res.responseBody,
      error,
    };
    logger.info(
      {
        tenantId: data.tenantId,
        eventId: data.eventId,
        deliveryId: data.deliveryId,
        attempt,
        status: res.statusCode,
        durationMs: res.durationMs,
        ok,
      },
      ok ? 'delivery attempt succeeded' : 'delivery attempt failed',
    );

    if (ok) {
      await deps.record({ ...base, status: 'succeeded', nextAttemptAt: null });
      return;
    }
    const delay = retryDelayMs(sub!.retryPolicy, roundAttempt);
    if (delay === null) {
      const reason = `gave up after ${roundAttempt} attempt${roundAttempt === 1 ? '' : 's'}: ${error}`;
      await finishDead(data, attempt, res.statusCode, reason, { attemptRow: { ...base } });
      throw new UnrecoverableError(reason);
    }
    await deps.record({ ...base, status: 'pending', nextAttemptAt: new Date(Date.now() + delay) });
    throw new AttemptFailedError(error!, delay);
  }

  async function finishDead(
    data: DeliveryJobData,
    attempts: number,
    lastStatusCode: number | null,
    reason: string,
    opts: { skipAttemptRow?: boolean; attemptRow?: Omit<AttemptResult, 'status' | 'nextAttemptAt'> },
  ): Promise<void> {
    const row: AttemptResult = opts.attemptRow
      ? { ...opts.attemptRow, status: 'dead', nextAttemptAt: null, deliveryError: reason }
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
        };
    await deps.record(row);
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
  }

  /**
   * The BullMQ processor. Attempt outcomes become AttemptFailedError (retry on the policy's
   * schedule) or UnrecoverableError (dead). Anything else is an infrastructure fault or a shutdown:
   * the job goes back to the queue without using up an attempt.
   */
  return async function process(job: Job<DeliveryJobData>, token?: string, signal?: AbortSignal): Promise<void> {
    try {
      await attemptDelivery(job, signal);
    } catch (err) {
      if (err instanceof AttemptFailedError || err instanceof UnrecoverableError) throw err;
      const delay = signal?.aborted ? 0 : (deps.infraRetryMs ?? 5_000);
      logger.error({ err, deliveryId: job.data.deliveryId }, 'delivery interrupted; returning it to the queue');
      await job.moveToDelayed(Date.now() + delay, token);
      throw new DelayedError();
    }
  };
}

/** BullMQ backoff strategy: the delay computed from the subscription's retry policy. */
export function policyBackoff(_attemptsMade: number, _type?: string, err?: Error): number {
  return err instanceof AttemptFailedError ? err.retryDelayMs : 5_000;
}
