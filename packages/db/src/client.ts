import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Orm = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

/** One pool, reachable both through drizzle (most queries) and raw postgres.js (batched hot paths). */
export interface Db {
  orm: Orm;
  sql: Sql;
  close(): Promise<void>;
}

export interface DbOptions {
  max?: number;
}

export function createDb(url: string, { max = 10 }: DbOptions = {}): Db {
  // JIT compiles short OLTP queries for hundreds of milliseconds more than they take to run.
  const sql = postgres(url, { max, onnotice: () => {}, connection: { application_name: 'hookrelay', jit: 'off' } });
  return {
    orm: drizzle(sql, { schema }),
    sql,
    close: () => sql.end({ timeout: 5 }),
  };
}
