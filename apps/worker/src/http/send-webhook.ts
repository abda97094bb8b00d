import { EventEmitter } from 'node:events';
import { Agent, errors } from 'undici';
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

  async function send(req: WebhookRequest, signal?: AbortSignal): Promise<WebhookResponse> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    // One signal per attempt for both the deadline and a cancellation from outside.
    const abort = new AttemptSignal();
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    const unfollow = signal ? follow(signal, abort) : undefined;
    try {
      const url = new URL(req.url);
      assertAllowedPort(url, allowedPorts);
      if (!allowPrivateNetworks) assertPublicLiteral(url.hostname);
      // The agent itself, with the URL parsed once: undici's top-level request() parses it again.
      const res = await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: abort,
      });
      const firstByteMs = elapsed();
      const responseBody = await readCapped(res.body, res.headers['content-length']);
      const retryAfter = res.headers['retry-after'];
      return {
        statusCode: res.statusCode,
        responseBody,
        error: null,
        durationMs: elapsed(),
        firstByteMs,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : (retryAfter ?? null),
      };
    } catch (err) {
      if (signal?.aborted) throw err; // cancelled by us (shutdown): not an attempt result
      return { statusCode: null, responseBody: null, error: describe(err, timedOut, timeoutMs), durationMs: elapsed() };
    } finally {
      clearTimeout(deadline);
      unfollow?.();
    }
  }

  return { send, close: () => agent.close() };
}

/**
 * What undici listens to for an attempt's abort. It takes an EventEmitter with `aborted` and
 * `reason` as well as an AbortSignal; an AbortController per attempt, with a listener on the job's
 * signal besides, cost about 3 % of the worker's CPU.
 */
class AttemptSignal extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** The attempts under way for each outside signal (a job's), which one listener aborts together. */
const followers = new WeakMap<AbortSignal, Set<AttemptSignal>>();

/** Aborts `attempt` when `signal` aborts; answers the function that stops following. */
function follow(signal: AbortSignal, attempt: AttemptSignal): () => void {
  if (signal.aborted) {
    attempt.abort(signal.reason);
    return () => {};
  }
  let attempts = followers.get(signal);
  if (!attempts) {
    const set = new Set<AttemptSignal>();
    followers.set(signal, (attempts = set));
    signal.addEventListener('abort', () => set.forEach((a) => a.abort(signal.reason)), { once: true });
  }
  attempts.add(attempt);
  return () => attempts.delete(attempt);
}

type ResponseBody = AsyncIterable<Buffer> & { destroy(): void; text(): Promise<string> };

/** Reads at most RESPONSE_BODY_LIMIT bytes, then drops the connection rather than draining a huge body. */
async function readCapped(body: ResponseBody, contentLength: string | string[] | undefined): Promise<string> {
  // The usual short answer of a declared length (undici holds the receiver to it) is read whole;
  // iterating the stream costs a promise per chunk.
  if (typeof contentLength === 'string' && Number(contentLength) <= RESPONSE_BODY_LIMIT) return body.text();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_BODY_LIMIT) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8');
}

function describe(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut || err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) {
    return `timed out after ${timeoutMs} ms`;
  }
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const root = e.cause ?? e;
  const code = root.code ? `${root.code}: ` : '';
  return `${code}${root.message}`.slice(0, 1000);
}
