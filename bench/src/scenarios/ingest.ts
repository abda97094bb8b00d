import type { Context } from '../context.ts';
import { ledgerProblems, readLedger } from '../ledger.ts';
import { createTenant } from '../seed.ts';
import { startStack } from '../services.ts';
import { driveIngest, type IngestLevel } from './baselines.ts';

export interface IngestRun {
  levels: IngestLevel[];
  peakRssMiB: number;
  problems: string[];
}

/**
 * POST /v1/events at rising concurrency. A 202 means the event and its delivery are committed
 * (and the job queued); no worker runs, so the API has the machine to itself as the baselines do.
 */
export async function ingestRun(ctx: Context): Promise<IngestRun> {
  ctx.log(`ingest: POST /v1/events at concurrency ${ctx.opts.ingestLevels.join(', ')}`);
  const stack = await startStack(ctx);
  const { sandbox, api } = stack;
  try {
    const tenant = await createTenant(api, [{ url: `${ctx.receiver.url}/ingest`, eventTypes: ['bench.*'] }]);
    const levels = await driveIngest(ctx, `${api.baseUrl}/v1/events`, { authorization: `Bearer ${tenant.apiKey}` }, api.child.process.pid);
    const ledger = await readLedger(sandbox.databaseUrl, tenant.id);
    // The warm-up's events count too: everything answered 202 must be stored.
    const problems: string[] = [];
    const accepted = ledger.events;
    const measured = levels.reduce((n, l) => n + l.ok, 0);
    if (accepted < measured) problems.push(`${measured} events answered 202 but only ${accepted} stored`);
    problems.push(...ledgerProblems({ events: accepted, deliveries: accepted }, ledger).filter((p) => !p.includes('events accepted')));
    const refused = levels.reduce((n, l) => n + l.non2xx + l.errors, 0);
    if (refused > 0) problems.push(`${refused} requests were refused or failed`);
    return { levels, peakRssMiB: api.child.peakRss(), problems };
  } finally {
    await stack.stop();
  }
}
