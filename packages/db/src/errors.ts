/**
 * Errors that mean Postgres could not be reached or dropped the connection (network codes from
 * Node, connection codes from postgres.js, and server states such as shutting down or too many
 * clients). The transaction did not commit, so the caller may simply try again.
 */
const DATABASE_UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** Looks through wrappers (drizzle puts the driver's error in `cause`). */
export const isDatabaseUnavailable = (error: unknown): boolean => {
  for (let e = error as { code?: unknown; cause?: unknown } | null, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && DATABASE_UNAVAILABLE.has(e.code)) return true;
  }
  return false;
};
