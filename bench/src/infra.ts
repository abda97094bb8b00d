import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { migrateDatabase } from '@hookrelay/db';
import { queuePrefix } from '@hookrelay/queue';

export const POSTGRES_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const runTag = `${Date.now()}_${randomBytes(3).toString('hex')}`;
let databases = 0;

async function withAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(`${POSTGRES_SERVER}/postgres`, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A database and Redis prefix of one scenario's own; `drop()` leaves nothing behind. */
export interface Sandbox {
  databaseUrl: string;
  redisPrefix: string;
  drop(): Promise<void>;
}

/**
 * The run migrates one template database; each scenario gets a copy of it, so no scenario sees
 * another's rows or jobs. While a copy is open its tables are analyzed as they grow, as autovacuum
 * keeps a deployment's statistics (see analyzeAsTablesGrow).
 */
export class Sandboxes {
  private constructor(
    private readonly template: string,
    private readonly analyzeCheckMs: number,
  ) {}

  static async create(analyzeCheckMs: number): Promise<Sandboxes> {
    const template = `hookrelay_bench_${runTag}_template`;
    await withAdmin((sql) => sql.unsafe(`create database ${template}`));
    await migrateDatabase(`${POSTGRES_SERVER}/${template}`);
    // The naive-ingest baseline's table: one row per event, as a hand-rolled service would keep.
    const sql = postgres(`${POSTGRES_SERVER}/${template}`, { max: 1, onnotice: () => {} });
    await sql`create table naive_events (id uuid primary key, type text not null, data jsonb not null, created_at timestamptz not null default now())`;
    await sql.end();
    return new Sandboxes(template, analyzeCheckMs);
  }

  async open(): Promise<Sandbox> {
    const name = `hookrelay_bench_${runTag}_${++databases}`;
    await withAdmin((sql) => sql.unsafe(`create database ${name} template ${this.template}`));
    const redisPrefix = `hrbench-${randomBytes(4).toString('hex')}`;
    const stopAnalyzing = this.analyzeCheckMs > 0 ? analyzeAsTablesGrow(`${POSTGRES_SERVER}/${name}`, this.analyzeCheckMs) : async () => {};
    return {
      databaseUrl: `${POSTGRES_SERVER}/${name}`,
      redisPrefix,
      async drop() {
        await stopAnalyzing();
        await withAdmin((sql) => sql.unsafe(`drop database if exists ${name} with (force)`));
        await deleteKeys(`${queuePrefix(redisPrefix)}*`);
        await deleteKeys(`${redisPrefix}*`);
      },
    };
  }

  async drop(): Promise<void> {
    await withAdmin((sql) => sql.unsafe(`drop database if exists ${this.template} with (force)`));
  }
}

/**
 * Analyzes each table of the database once as many of its rows have changed since its last
 * analyze as it held then (and at least 50), checked every `checkMs` until the answer is called.
 * Autovacuum's own rule (a tenth of the rows, looked at every 60 s) keeps a deployment's large
 * tables analyzed a few times a day; analyzing a scenario's whole database every 5 s instead
 * cost 200–400 ms of a busy Postgres core each time, 4–8 % of it, which no deployment pays.
 * Doubling keeps the plans a grown table gets (no scans of a table analyzed empty) at a few
 * analyzes per table per scenario.
 */
function analyzeAsTablesGrow(databaseUrl: string, checkMs: number): () => Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const rowsWhenAnalyzed = new Map<string, number>();
  const pass = async () => {
    const tables = await sql<{ name: string; rows: number; changed: number }[]>`
      select relname as name, n_live_tup::int as rows, n_mod_since_analyze::int as changed
      from pg_stat_user_tables where schemaname = 'public'`;
    for (const t of tables) {
      if (t.changed < Math.max(50, rowsWhenAnalyzed.get(t.name) ?? 0)) continue;
      await sql`analyze ${sql(t.name)}`;
      rowsWhenAnalyzed.set(t.name, t.rows);
    }
  };
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(pass).catch(() => {});
  }, checkMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
    await sql.end({ timeout: 5 });
  };
}

export async function deleteKeys(pattern: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const stream = redis.scanStream({ match: pattern, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
}
