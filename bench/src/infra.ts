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
 * another's rows or jobs. Each copy is analyzed every `analyzeEveryMs` while it is open, as
 * autovacuum keeps a deployment's statistics (its 60 s nap is longer than most scenarios).
 */
export class Sandboxes {
  private constructor(
    private readonly template: string,
    private readonly analyzeEveryMs: number,
  ) {}

  static async create(analyzeEveryMs: number): Promise<Sandboxes> {
    const template = `hookrelay_bench_${runTag}_template`;
    await withAdmin((sql) => sql.unsafe(`create database ${template}`));
    await migrateDatabase(`${POSTGRES_SERVER}/${template}`);
    // The naive-ingest baseline's table: one row per event, as a hand-rolled service would keep.
    const sql = postgres(`${POSTGRES_SERVER}/${template}`, { max: 1, onnotice: () => {} });
    await sql`create table naive_events (id uuid primary key, type text not null, data jsonb not null, created_at timestamptz not null default now())`;
    await sql.end();
    return new Sandboxes(template, analyzeEveryMs);
  }

  async open(): Promise<Sandbox> {
    const name = `hookrelay_bench_${runTag}_${++databases}`;
    await withAdmin((sql) => sql.unsafe(`create database ${name} template ${this.template}`));
    const redisPrefix = `hrbench-${randomBytes(4).toString('hex')}`;
    const stopAnalyzing = this.analyzeEveryMs > 0 ? analyzeEvery(`${POSTGRES_SERVER}/${name}`, this.analyzeEveryMs) : async () => {};
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

/** Runs ANALYZE on the database every `everyMs` (one at a time) until the answer is called. */
function analyzeEvery(databaseUrl: string, everyMs: number): () => Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => sql`analyze`).catch(() => {});
  }, everyMs);
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
