import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '@hookrelay/db';
import { pgArray } from '../src/pg-array.ts';
import { createTestDatabase, type TestDatabase } from '@hookrelay/testing';

describe('pgArray', () => {
  let database: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, { max: 1 });
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('round-trips every value through Postgres, quotes, backslashes and nulls included', async () => {
    const values = ['plain', 'a "quoted" word', 'back\\slash', '\\"', '{braces},commas', 'NULL', '', ' spaced ', 'ünïcode', null, '42'];
    // Unnested in Postgres: a text[] result would come back through the driver's own array parser.
    const rows = await db.sql<{ v: string | null }[]>`select v from unnest(${pgArray(values)}::text[]) with ordinality as u(v, n) order by n`;
    expect(rows.map((r) => r.v)).toEqual(values);
  });

  it('writes numbers as they print', async () => {
    const [row] = await db.sql<{ a: number[] }[]>`select ${pgArray([1, 0, -7, 2 ** 40])}::bigint[]::float8[] as a`;
    expect(row!.a).toEqual([1, 0, -7, 2 ** 40]);
  });
});
