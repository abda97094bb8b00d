import postgres from 'postgres';

export interface Ledger {
  /** Published events (Hookrelay's own hookrelay.* events left out). */
  events: number;
  /** Deliveries the stored events call for (their delivery_count, summed). */
  owed: number;
  deliveries: number;
  succeeded: number;
  pending: number;
  dead: number;
  attempts: number;
}

/** What Postgres holds for one tenant. */
export async function readLedger(databaseUrl: string, tenantId: string): Promise<Ledger> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    // One snapshot for all three counts: the API may still be committing the last requests the
    // load generator gave up on, and counts read a commit apart would not balance.
    const { d, e, a } = await sql.begin('isolation level repeatable read read only', async (tx) => {
      const [d] = await tx<{ deliveries: string; succeeded: string; pending: string; dead: string }[]>`
        select count(*) as deliveries,
               count(*) filter (where status = 'succeeded') as succeeded,
               count(*) filter (where status = 'pending') as pending,
               count(*) filter (where status = 'dead') as dead
        from deliveries where tenant_id = ${tenantId}`;
      const [e] = await tx<{ n: string; owed: string }[]>`
        select count(*) filter (where type not like 'hookrelay.%') as n, coalesce(sum(delivery_count), 0) as owed
        from events where tenant_id = ${tenantId}`;
      const [a] = await tx<{ n: string }[]>`select count(*) as n from attempts where tenant_id = ${tenantId}`;
      return { d, e, a };
    });
    return {
      events: Number(e!.n),
      owed: Number(e!.owed),
      deliveries: Number(d!.deliveries),
      succeeded: Number(d!.succeeded),
      pending: Number(d!.pending),
      dead: Number(d!.dead),
      attempts: Number(a!.n),
    };
  } finally {
    await sql.end();
  }
}

/**
 * The run's books must balance: every accepted event is in Postgres with one delivery per target,
 * and every delivery is delivered or still pending. Anything else voids the scenario.
 */
export function ledgerProblems(expected: { events: number; deliveries: number }, ledger: Ledger, { deadAllowed = false } = {}): string[] {
  const problems: string[] = [];
  if (ledger.events !== expected.events) problems.push(`${expected.events} events accepted but ${ledger.events} stored`);
  if (ledger.deliveries !== expected.deliveries) problems.push(`${expected.deliveries} deliveries owed but ${ledger.deliveries} stored`);
  if (ledger.owed !== ledger.deliveries) problems.push(`the stored events call for ${ledger.owed} deliveries but ${ledger.deliveries} exist`);
  const accounted = ledger.succeeded + ledger.pending + (deadAllowed ? ledger.dead : 0);
  if (accounted !== expected.deliveries) {
    problems.push(`published ${expected.deliveries} ≠ delivered ${ledger.succeeded} + pending ${ledger.pending}${deadAllowed ? ` + dead ${ledger.dead}` : ''}`);
  }
  return problems;
}
