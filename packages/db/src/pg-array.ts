/**
 * A Postgres array literal (`{"a",NULL,"b"}`) for one query parameter, cast in SQL to the column's
 * array type (`::uuid[]`, `::text[]::jsonb[]`). Bulk inserts then bind one parameter per column
 * rather than one per cell, and a column of nulls needs no type inference from the driver.
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i > 0) literal += ',';
    if (v === null) {
      literal += 'NULL';
      continue;
    }
    const s = String(v);
    // Ids, counts and timestamps (most of every publish) need no escaping: testing first is a
    // third of the cost of a replace that finds nothing.
    literal += NEEDS_ESCAPE.test(s) ? `"${s.replace(/[\\"]/g, '\\$&')}"` : `"${s}"`;
  }
  return `${literal}}`;
}

const NEEDS_ESCAPE = /[\\"]/;
