import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { createSecretBox, rememberingDecryptions, type SecretBox, type SecretBoxKeys } from '@hookrelay/domain';
import * as schema from './schema.ts';

export type Orm = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

/** One pool, reachable both through drizzle (most queries) and raw postgres.js (batched hot paths). */
export interface Db {
  orm: Orm;
  sql: Sql;
  /** Encrypts signing secrets as the repositories write them and decrypts them as they read. */
  secrets: SecretBox;
  close(): Promise<void>;
}

export interface DbOptions {
  max?: number;
  /** The keys signing secrets are encrypted under at rest: `config.encryptionKeys`. Without them, reading or writing a secret throws. */
  encryptionKeys?: SecretBoxKeys;
}

export function createDb(url: string, { max = 10, encryptionKeys }: DbOptions = {}): Db {
  // JIT compiles short OLTP queries for hundreds of milliseconds more than they take to run.
  const sql = postgres(url, { max, onnotice: () => {}, connection: { application_name: 'hookrelay', jit: 'off' } });
  return {
    orm: drizzle(sql, { schema }),
    sql,
    secrets: encryptionKeys ? rememberingDecryptions(createSecretBox(encryptionKeys)) : missingSecretBox,
    close: () => sql.end({ timeout: 5 }),
  };
}

/**
 * Runs `work` in one transaction, its statements written as postgres.js templates, which
 * postgres.js prepares once per connection. drizzle sends every query unnamed, so postgres.js has
 * Postgres describe it first (a round trip more) and Postgres parses and plans it each time.
 */
export function inTransaction<T>(db: Db, work: (sql: Sql) => Promise<T>): Promise<T> {
  // A transaction's sql runs statements as the pool's does; only the pool's helpers (end, options…) are missing from its type.
  return db.sql.begin((sql) => work(sql as unknown as Sql)) as Promise<T>;
}

/** For a caller that gave no keys: secrets are neither written in plain text nor read with a guessed key. */
const missingSecretBox: SecretBox = {
  keyId: 'none',
  encrypt: () => {
    throw new Error('createDb was called without encryptionKeys: signing secrets cannot be encrypted');
  },
  decrypt: () => {
    throw new Error('createDb was called without encryptionKeys: signing secrets cannot be decrypted');
  },
  isCurrent: () => false,
};
