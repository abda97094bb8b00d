/**
 * A Postgres array literal (`{"a",NULL,"b"}`) for one query parameter, cast in SQL to the column's
 * array type (`::uuid[]`, `::text[]::jsonb[]`). Bulk inserts then bind one parameter per column
 * rather than one per cell, and a column of nulls needs no type inference from the driver.
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${String(v).replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;
}
