/**
 * node --import tsx bench/src/record-cost.ts [batch=45] [batches=1000]
 *
 * What recording attempt results costs, apart from everything else: the worker's statement
 * (`recordAttemptResults`) run batch after batch on one connection against a scratch database of
 * pending deliveries. Prints the Node process's CPU per result and the wall time per result, which
 * on one connection is mostly Postgres's work. `RECORD_COST_PREP` runs `;`-separated statements
 * on the scratch database first (dropping an index, say) to see what each part of the schema costs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { createDb, migrateDatabase, recordAttemptResults, type AttemptResult } from '@hookrelay/db';
import { processCpuMs } from './cpu.ts';

const SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
const batch = Number(process.argv[2] ?? 45);
const batches = Number(process.argv[3] ?? 1000);
const WARM = 20;
const name = `hookrelay_record_cost_${randomBytes(4).toString('hex')}`;

const admin = postgres(`${SERVER}/postgres`, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
try {
  const url = `${SERVER}/${name}`;
  await migrateDatabase(url);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const tenantId = randomUUID();
  const subscriptionId = randomUUID();
  await sql`insert into tenants (id, name) values (${tenantId}, 'record-cost')`;
  await sql`insert into subscriptions (id, tenant_id, url, event_types, secret) values (${subscriptionId}, ${tenantId}, 'http://127.0.0.1/', '{a}', 'unused')`;
  await sql`insert into events (id, tenant_id, type, data, delivery_count)
    select gen_random_uuid(), ${tenantId}, 'a', '{}', 1 from generate_series(1, ${batch * batches})`;
  await sql`insert into deliveries (id, tenant_id, event_id, subscription_id) select gen_random_uuid(), ${tenantId}, id, ${subscriptionId} from events`;
  for (const statement of (process.env.RECORD_COST_PREP ?? '').split(';').filter((s) => s.trim())) await sql.unsafe(statement);
  await sql`analyze`;
  const ids = (await sql<{ id: string }[]>`select id from deliveries`).map((r) => r.id);
  await sql.end();

  const db = createDb(url, { max: 1 });
  const result = (deliveryId: string): AttemptResult => ({
    deliveryId,
    tenantId,
    attempt: 1,
    startedAt: new Date(),
    durationMs: 3,
    statusCode: 200,
    responseBody: 'ok',
    error: null,
    status: 'succeeded',
    nextAttemptAt: null,
  });
  const run = (i: number) => recordAttemptResults(db, ids.slice(i * batch, (i + 1) * batch).map(result));
  for (let i = 0; i < WARM; i++) await run(i);
  // The one backend's own CPU (from /proc, as the bench reads every process's) and the WAL it
  // wrote: WAL bytes do not depend on how busy the machine is, so they compare schemas exactly.
  const pid = (await db.sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
  const wal = async () => (await db.sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`)[0]!.lsn;
  const walBytes = async (from: string) => Number((await db.sql<{ n: string }[]>`select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), ${from}::pg_lsn)::text as n`)[0]!.n);
  const wal0 = await wal();
  const backend0 = processCpuMs(pid);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = WARM; i < batches; i++) await run(i);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  const backendMs = processCpuMs(pid) - backend0;
  const walPerResult = (await walBytes(wal0)) / ((batches - WARM) * batch);
  const results = (batches - WARM) * batch;
  console.log(
    `batches of ${batch}: Node ${((cpu.user + cpu.system) / results).toFixed(1)} µs of CPU per result, ` +
      `Postgres ${((backendMs * 1000) / results).toFixed(1)} µs, WAL ${walPerResult.toFixed(0)} B, ` +
      `wall ${(wallMs / (batches - WARM)).toFixed(2)} ms per batch = ${((wallMs / results) * 1000).toFixed(1)} µs per result`,
  );
  await db.close();
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
