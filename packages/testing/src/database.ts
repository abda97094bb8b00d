import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { migrateDatabase } from '@hookrelay/db';

const SERVER_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
export const TEMPLATE_DATABASE = 'hookrelay_test_template';

const urlFor = (name: string) => `${SERVER_URL}/${name}`;

async function withAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(urlFor('postgres'), { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Builds the migrated template every test database is copied from (once per test run). */
export async function prepareTemplateDatabase(): Promise<void> {
  await withAdmin(async (sql) => {
    await sql.unsafe(`drop database if exists ${TEMPLATE_DATABASE} with (force)`);
    await sql.unsafe(`create database ${TEMPLATE_DATABASE}`);
  });
  await migrateDatabase(urlFor(TEMPLATE_DATABASE));
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own, copied from the template in milliseconds. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `hookrelay_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((sql) => sql.unsafe(`create database ${name} template ${TEMPLATE_DATABASE}`));
  return {
    url: urlFor(name),
    name,
    drop: () => withAdmin((sql) => sql.unsafe(`drop database if exists ${name} with (force)`)).then(() => {}),
  };
}

/** Removes databases left behind by test runs that were killed before they could clean up. */
export async function dropStaleTestDatabases(): Promise<void> {
  await withAdmin(async (sql) => {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like 'hookrelay_test_%' and datname <> ${TEMPLATE_DATABASE}`;
    for (const { datname } of rows) await sql.unsafe(`drop database if exists ${datname} with (force)`);
  });
}
