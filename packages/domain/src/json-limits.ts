import { createHash } from 'node:crypto';

/**
 * How deeply a JSON body may nest. Real payloads stay within a dozen levels; far deeper ones
 * (thousands of `[`) overflow the stack of JSON.stringify and of Postgres' jsonb parser, so they
 * are refused at the edge instead of failing later as a 500.
 */
export const MAX_JSON_DEPTH = 128;

/** True when `value` nests objects or arrays more than `max` levels deep (`{}` is one level). Never recurses. */
export function jsonDepthExceeds(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return false;
}

/** NUL (Postgres text cannot hold it) or a UTF-16 surrogate without its pair (jsonb refuses its escape). */
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const hasUnstorableText = (text: string): boolean => UNSTORABLE_TEXT.test(text);

export interface UnstorableValue {
  /** JSON-pointer-like path from the root, e.g. `/metadata/k`; empty for the root itself. */
  path: string;
  problem: string;
}

const TEXT_PROBLEM = 'contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored';

/**
 * The first value Postgres would refuse, or null: a string (or key) with NUL or an unpaired
 * surrogate, or a number that is not finite (JSON's 1e309, or "Infinity" that validation coerced
 * into a number). `skip` names top-level keys whose values are stored as they came (an event's
 * `data` goes to a `json` column, which keeps all of these). Never recurses.
 */
export function findUnstorableValue(value: unknown, skip: readonly string[] = []): UnstorableValue | null {
  const pending: [unknown, string][] = [[value, '']];
  while (pending.length > 0) {
    const [node, path] = pending.pop()!;
    if (typeof node === 'string') {
      if (hasUnstorableText(node)) return { path, problem: TEXT_PROBLEM };
    } else if (typeof node === 'number') {
      if (!Number.isFinite(node)) return { path, problem: 'must be a finite number' };
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => pending.push([child, `${path}/${i}`]));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        if (hasUnstorableText(key)) return { path, problem: `has a key that ${TEXT_PROBLEM}` };
        if (path === '' && skip.includes(key)) continue;
        pending.push([child, `${path}/${key}`]);
      }
    }
  }
  return null;
}

/**
 * A provider's de-duplication key as it can be stored and indexed: as it is when short and clean,
 * otherwise `sha256:` and its digest (the same key always maps to the same digest). A signed body
 * can carry a megabyte-long id, which no btree index entry holds.
 */
export function storableKey(key: string, maxLength = 200): string {
  if (key.length <= maxLength && !hasUnstorableText(key)) return key;
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}
