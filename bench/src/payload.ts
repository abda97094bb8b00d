import { randomUUID } from 'node:crypto';
import { secretKey, webhookHeaders } from '@hookrelay/domain';

/** A JSON object of about `bytes` bytes, shaped like a typical webhook: a few fields and some text. */
export function samplePayload(bytes = 1024): Record<string, unknown> {
  const base = { orderId: 'ord_0000000000', amount: 4200, currency: 'EUR', customer: { id: 'cus_000000', email: 'someone@example.com' } };
  const filler = Math.max(0, bytes - JSON.stringify({ ...base, note: '' }).length);
  return { ...base, note: 'x'.repeat(filler) };
}

/** The publish body the ingest scenarios send: `{"type","data"}` with a 1 KiB `data`. */
export const publishBody = (type: string): string => JSON.stringify({ type, data: samplePayload() });

/** A fixed signing secret for the baselines, so they sign as Hookrelay does. */
export const BASELINE_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const baselineKey = secretKey(BASELINE_SECRET);

/** A signed 1 KiB webhook (Standard Webhooks headers), as the baselines post it. */
export function signedWebhook(): { body: string; headers: Record<string, string> } {
  const msgId = randomUUID();
  const body = JSON.stringify({ id: msgId, type: 'bench.baseline', timestamp: new Date().toISOString(), data: samplePayload() });
  const headers = webhookHeaders(baselineKey, { msgId, timestamp: Math.floor(Date.now() / 1000), body });
  return { body, headers: { 'content-type': 'application/json', ...headers } };
}
