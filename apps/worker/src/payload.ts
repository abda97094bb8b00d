import type { EventForDelivery } from '@hookrelay/db';

/**
 * `{"id","type","timestamp","data"}`, with `data` spliced in as the exact JSON text that was
 * published: no parse and re-serialise per attempt, and receivers get what the tenant sent.
 */
export function webhookBody(event: EventForDelivery): string {
  return (
    `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},` +
    `"timestamp":${JSON.stringify(event.timestamp.toISOString())},"data":${event.dataJson}}`
  );
}
