/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible characters, spaces and tabs; no CR, LF or NUL. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);
const RESERVED = new Set(['content-type', 'content-length', 'user-agent', 'host', 'content-encoding', 'expect']);

export const CUSTOM_HEADER_LIMITS = { count: 20, valueLength: 4096 } as const;

/** Returns why a set of custom delivery headers is unacceptable, or null. */
export function customHeadersProblem(headers: Record<string, string>): string | null {
  const names = Object.keys(headers);
  if (names.length > CUSTOM_HEADER_LIMITS.count) return `at most ${CUSTOM_HEADER_LIMITS.count} headers`;
  const seen = new Set<string>();
  for (const name of names) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) return `"${name}" is not a valid header name`;
    if (seen.has(lower)) return `"${name}" is given twice`;
    seen.add(lower);
    if (HOP_BY_HOP.has(lower)) return `"${name}" is a hop-by-hop header and cannot be set`;
    if (RESERVED.has(lower) || lower.startsWith('webhook-')) return `"${name}" is set by Hookrelay and cannot be overridden`;
    const value = headers[name]!;
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) return `"${name}" has a value with control characters`;
    if (value.length > CUSTOM_HEADER_LIMITS.valueLength) return `"${name}" is longer than ${CUSTOM_HEADER_LIMITS.valueLength} characters`;
  }
  return null;
}
