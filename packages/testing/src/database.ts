import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { migrateDatabase } from '@hookrelay/db';

const SERVER_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
const urlFor = (name: string) => `${SERVER_URL}/${name}`;
const STALE_AFTER_MS = 2 * 60 * 60_000;

/**
 * Each test run copies databases from a template of its own, named in the environment by the
 * global setup, so two runs on one server (two checkouts, CI beside a developer) never collide.
 */
export const templateDatabase = (): string => {
  const name = process.env.HOOKRELAY_TEST_TEMPLATE;
  if (!name) throw new Error('HOOKRELAY_TEST_TEMPLATE is not set: run the tests through vitest (its global setup sets it)');
  return name;
};

/** Test database names carry their creation time, so leftovers of killed runs can be told apart. */
const testDatabaseName = (kind: string) => `hookrelay_test_${kind}_${Date.now()}_${randomBytes(4).toString('hex')}`;

async function withAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(urlFor('postgres'), { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Builds this run's migrated template, which every test database is copied from. */
export async function prepareTemplateDatabase(): Promise<{ name: string; drop(): Promise<void> }> {
  const name = testDatabaseName('template');
  await withAdmin((sql) => sql.unsafe(`create database ${name}`));
  await migrateDatabase(urlFor(name));
  return { name, drop: () => withAdmin((sql) => sql.unsafe(`drop database if exists ${name} with (force)`)).then(() => {}) };
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own, copied from the template in milliseconds. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = testDatabaseName('db');
  await withAdmin((sql) => sql.unsafe(`create database ${name} template ${templateDatabase()}`));
  return {
    url: urlFor(name),
    name,
    drop: () => withAdmin((sql) => sql.unsafe(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}

/** Removes databases left behind by test runs that were killed hours ago; live runs are left alone. */
export async function dropStaleTestDatabases(): Promise<void> {
  await withAdmin(async (sql) => {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like 'hookrelay\_test\_%'`;
    for (const { datname } of rows) {
      const createdAt = Number(/_(\d{13})_/.exec(datname)?.[1] ?? 0);
      if (Date.now() - createdAt > STALE_AFTER_MS) await sql.unsafe(`drop database if exists ${datname} with (force)`);
    }
  });
}
