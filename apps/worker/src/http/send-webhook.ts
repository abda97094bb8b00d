import type { IncomingHttpHeaders } from 'node:http';
import { Agent, errors, type Dispatcher } from 'undici';
import type { PortRange } from '@hookrelay/domain';
import { assertAllowedPort, assertPublicLiteral, safeLookup } from './safe-lookup.ts';

/** How much of a receiver's answer is kept on the attempt record. */
export const RESPONSE_BODY_LIMIT = 4096;

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookResponse {
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  /** Milliseconds until the answer's status line and headers arrived (the first byte). */
  firstByteMs?: number;
  /** The receiver's Retry-After header, if it sent one. */
  retryAfter?: string | null;
}

export interface WebhookSender {
  send(req: WebhookRequest, signal?: AbortSignal): Promise<WebhookResponse>;
  close(): Promise<void>;
}

export interface SenderOptions {
  timeoutMs: number;
  allowPrivateNetworks: boolean;
  /** Ports deliveries may connect to (HOOKRELAY_ALLOWED_PORTS); null or absent means any port. */
  allowedPorts?: readonly PortRange[] | null;
}

export function createWebhookSender({ timeoutMs, allowPrivateNetworks, allowedPorts = null }: SenderOptions): WebhookSender {
  const agent = new Agent({
    connect: allowPrivateNetworks ? { timeout: timeoutMs } : { timeout: timeoutMs, lookup: safeLookup },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 4_000,
    connections: 64,
  });

  function send(req: WebhookRequest, signal?: AbortSignal): Promise<WebhookResponse> {
    const attempt = new Attempt(timeoutMs, signal);
    if (signal) follow(signal, attempt);
    if (attempt.settled) return attempt.result; // cancelled before it began: nothing is sent
    try {
      const url = new URL(req.url);
      assertAllowedPort(url, allowedPorts);
      if (!allowPrivateNetworks) assertPublicLiteral(url.hostname);
      // The agent itself, with the URL parsed once: undici's top-level helpers parse it again.
      agent.dispatch({ origin: url.origin, path: url.pathname + url.search, method: 'POST', headers: req.headers, body: req.body }, attempt);
    } catch (err) {
      attempt.onResponseError(null, err as Error);
    }
    return attempt.result;
  }

  return { send, close: () => agent.close() };
}

/**
 * One attempt, as undici's handler of its request: the status, the Retry-After header and the
 * first RESPONSE_BODY_LIMIT bytes of the body are taken as they arrive, without the stream and the
 * promises that `request()` makes for every answer. It settles at its deadline or when its job is
 * cancelled, whether or not undici has begun the request (one waiting for a connection is cut off
 * when it gets one).
 */
class Attempt implements Dispatcher.DispatchHandler {
  readonly result: Promise<WebhookResponse>;
  settled = false;
  private resolve!: (res: WebhookResponse) => void;
  private reject!: (err: unknown) => void;
  private readonly started = performance.now();
  private readonly deadline: NodeJS.Timeout;
  private controller: Dispatcher.DispatchController | null = null;
  /** Why the request was cut off, kept for a controller that undici has not handed over yet. */
  private cutOff: Error | null = null;
  /** undici is done with the request (answered, failed or aborted). */
  private over = false;
  private statusCode = 0;
  private firstByteMs = 0;
  private retryAfter: string | null = null;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.deadline = setTimeout(() => {
      this.fail(`timed out after ${timeoutMs} ms`);
      this.cut(new errors.RequestAbortedError('the attempt reached its deadline'));
    }, timeoutMs);
  }

  /** The job was cancelled (shutdown): not an attempt result, so the promise rejects. */
  abort(reason: unknown): void {
    this.settle(() => this.reject(reason));
    this.cut(reason instanceof Error ? reason : new errors.RequestAbortedError('the job was cancelled'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cutOff) controller.abort(this.cutOff);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // informational (103 Early Hints): the answer is still to come
    this.statusCode = statusCode;
    this.firstByteMs = this.elapsed();
    const retryAfter = headers['retry-after'];
    this.retryAfter = Array.isArray(retryAfter) ? (retryAfter[0] ?? null) : (retryAfter ?? null);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Enough is kept: the connection is dropped rather than a huge body drained.
    if (this.size >= RESPONSE_BODY_LIMIT) {
      this.answer();
      controller.abort(new errors.RequestAbortedError('the answer is longer than is kept'));
    }
  }

  onResponseEnd(): void {
    this.over = true;
    this.answer();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.over = true;
    // Cancelled by us (shutdown): not an attempt result.
    if (this.signal?.aborted) this.settle(() => this.reject(this.signal!.reason));
    else this.fail(describe(err, this.timeoutMs));
  }

  private answer(): void {
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const { statusCode, firstByteMs, retryAfter } = this;
    const responseBody = body.subarray(0, RESPONSE_BODY_LIMIT).toString('utf8');
    this.settle(() => this.resolve({ statusCode, responseBody, error: null, durationMs: this.elapsed(), firstByteMs, retryAfter }));
  }

  private fail(error: string): void {
    this.settle(() => this.resolve({ statusCode: null, responseBody: null, error, durationMs: this.elapsed() }));
  }

  private settle(how: () => void): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.deadline);
    if (this.signal) unfollow(this.signal, this);
    how();
  }

  private cut(reason: Error): void {
    if (this.over || this.cutOff) return;
    this.cutOff = reason;
    this.controller?.abort(reason);
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.started);
  }
}

/** The attempts under way for each outside signal (a job's), which one listener aborts together. */
const followers = new WeakMap<AbortSignal, Set<Attempt>>();

/** Aborts `attempt` when `signal` aborts (at once if it has). */
function follow(signal: AbortSignal, attempt: Attempt): void {
  if (signal.aborted) return attempt.abort(signal.reason);
  let attempts = followers.get(signal);
  if (!attempts) {
    const set = new Set<Attempt>();
    followers.set(signal, (attempts = set));
    signal.addEventListener('abort', () => set.forEach((a) => a.abort(signal.reason)), { once: true });
  }
  attempts.add(attempt);
}

function unfollow(signal: AbortSignal, attempt: Attempt): void {
  followers.get(signal)?.delete(attempt);
}

function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) {
    return `timed out after ${timeoutMs} ms`;
  }
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const root = e.cause ?? e;
  const code = root.code ? `${root.code}: ` : '';
  return `${code}${root.message}`.slice(0, 1000);
}
