import { TIMESTAMP_TOLERANCE_MS, type InboundCall, type Verification } from './types.ts';

export const OK: Verification = { ok: true };

/** The header's value, trimmed; undefined when absent or blank, so blank counts as missing. */
export function header(call: InboundCall, name: string): string | undefined {
  const key = name.toLowerCase();
  // Own properties only: a configured header named `constructor` must not find Object's.
  const raw = Object.hasOwn(call.headers, key) ? call.headers[key] : undefined;
  const value = typeof raw === 'string' ? raw.trim() : undefined;
  return value ? value : undefined;
}

/** The named headers that are present, for `sourceHeaders`. Callers never list a signature header. */
export function pickHeaders(call: InboundCall, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = header(call, name);
    if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}

/**
 * Secrets worth trying. An empty secret is dropped: an HMAC keyed by nothing is one anybody can
 * compute, so a blank stored secret must not make every call pass.
 */
export function usableSecrets(secrets: readonly string[]): string[] {
  return secrets.filter((s) => typeof s === 'string' && s.length > 0);
}

export function missing(name: string, hint = ''): Verification {
  return { ok: false, reason: 'missing_signature', message: `missing ${name} header${hint}` };
}

export function malformed(message: string): Verification {
  return { ok: false, reason: 'malformed_signature', message };
}

export function invalid(message: string): Verification {
  return { ok: false, reason: 'invalid_signature', message };
}

export const NO_SECRET: Verification = invalid('the source has no active secret to verify against');

const UNIX_SECONDS = /^\d{1,12}$/;

/** Unix seconds as sent, digits only; null otherwise. */
export function parseUnixSeconds(text: string): number | null {
  return UNIX_SECONDS.test(text) ? Number(text) : null;
}

/**
 * Refuses timestamps too old (a replay) and too new (a replay prepared in advance, or a clock far
 * off). Some provider libraries check only the past; both directions are checked here.
 */
export function checkTimestamp(seconds: number, nowMs: number): Verification {
  const ageMs = nowMs - seconds * 1000;
  if (Math.abs(ageMs) <= TIMESTAMP_TOLERANCE_MS) return OK;
  const skewSeconds = Math.round(ageMs / 1000);
  const when = skewSeconds > 0 ? `${skewSeconds} s in the past` : `${-skewSeconds} s in the future`;
  return {
    ok: false,
    reason: 'stale_timestamp',
    message: `signed timestamp is ${when}; at most ${TIMESTAMP_TOLERANCE_MS / 1000} s either way is accepted`,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The raw body as UTF-8 text; throws on an empty body or invalid UTF-8. */
export function bodyText(call: InboundCall): string {
  if (call.rawBody.length === 0) throw new Error('empty body');
  return utf8.decode(call.rawBody);
}

/** The default `parseBody`: the raw body as JSON; throws when it is empty or not JSON. */
export function parseJsonBody(call: InboundCall): unknown {
  return JSON.parse(bodyText(call));
}

/** The body as a plain object, or null for arrays, scalars and null. */
export function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** A non-empty string field, or null. */
export function stringField(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** An id as providers send it: a non-empty string or a finite number (Paystack's ids are numbers). */
export function idField(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return stringField(value);
}

/** `type:id` when both exist; null otherwise, since half a key could merge unrelated events. */
export function compoundKey(type: string | null, id: string | null): string | null {
  return type !== null && id !== null ? `${type}:${id}` : null;
}

/** Unix seconds for the sample signers. */
export function unixSeconds(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

export const JSON_CONTENT_TYPE = 'application/json';
