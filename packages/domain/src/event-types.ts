/** A concrete event type, as published. */
export const EVENT_TYPE_REGEX = /^[A-Za-z0-9_.-]{1,255}$/;
export const EVENT_TYPE_PATTERN_SOURCE = '^[A-Za-z0-9_.-]{1,255}$';

/** What a subscription may list: `*`, an exact type, or `prefix.*`. */
export const EVENT_FILTER_PATTERN_SOURCE = '^(\\*|[A-Za-z0-9_.-]{1,255}|[A-Za-z0-9_.-]{1,253}\\.\\*)$';

export const ALL_EVENT_TYPES = '*';

/** Hookrelay's own events (see endpoint-protection.ts); kept here to avoid an import cycle. */
const OPERATIONAL_PREFIX = 'hookrelay.';

/**
 * True when `type` is selected by any filter. `prefix.*` selects every type that starts with
 * `prefix.` at any depth; an empty filter list selects everything. Hookrelay's own `hookrelay.*`
 * events are only selected by filters that name them: a catch-all subscription, often the
 * failing endpoint itself, should not receive reports about endpoints.
 */
export function matchesEventType(filters: readonly string[], type: string): boolean {
  if (type.startsWith(OPERATIONAL_PREFIX)) {
    return filters.some((f) => f.startsWith(OPERATIONAL_PREFIX) && (f === type || (f.endsWith('.*') && type.startsWith(f.slice(0, -1)))));
  }
  if (filters.length === 0) return true;
  for (const filter of filters) {
    if (filter === ALL_EVENT_TYPES || filter === type) return true;
    if (filter.endsWith('.*') && type.startsWith(filter.slice(0, -1))) return true;
  }
  return false;
}

/** Sorted, de-duplicated filters; an empty list means all events. */
export function normalizeEventFilters(filters: readonly string[] | undefined): string[] {
  if (!filters || filters.length === 0 || filters.includes(ALL_EVENT_TYPES)) return [ALL_EVENT_TYPES];
  return [...new Set(filters)].sort();
}
