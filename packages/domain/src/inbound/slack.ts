import { randomUUID } from 'node:crypto';
import {
  JSON_CONTENT_TYPE,
  NO_SECRET,
  asRecord,
  bodyText,
  checkTimestamp,
  header,
  invalid,
  malformed,
  missing,
  parseUnixSeconds,
  pickHeaders,
  stringField,
  unixSeconds,
  usableSecrets,
} from './common.ts';
import { DIGEST_BYTES, decodeHex, hmac, matchesAny } from './hmac.ts';
import type { InboundCall, ProviderAdapter } from './types.ts';

const SIGNATURE_HEADER = 'x-slack-signature';
const TIMESTAMP_HEADER = 'x-slack-request-timestamp';
const VERSION = 'v0';
const KEPT_HEADERS = [TIMESTAMP_HEADER, 'x-slack-retry-num', 'x-slack-retry-reason'] as const;
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`, keyed by the app's signing secret. */
function signature(secret: string, timestamp: string, rawBody: Buffer | string): Buffer {
  return hmac('sha256', secret, `${VERSION}:${timestamp}:`, rawBody);
}

function mediaType(call: InboundCall): string {
  return (header(call, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export const slackProvider: ProviderAdapter = {
  name: 'slack',

  verify(call, secrets) {
    const value = header(call, SIGNATURE_HEADER);
    if (value === undefined) return missing(SIGNATURE_HEADER);
    const timestamp = header(call, TIMESTAMP_HEADER);
    if (timestamp === undefined) return missing(TIMESTAMP_HEADER);
    const given = value.startsWith(`${VERSION}=`) ? decodeHex(value.slice(VERSION.length + 1), DIGEST_BYTES.sha256) : null;
    if (!given) return malformed(`${SIGNATURE_HEADER} must be ${VERSION}=<64 hex digits>`);
    const seconds = parseUnixSeconds(timestamp);
    if (seconds === null) return malformed(`${TIMESTAMP_HEADER} must be unix seconds`);
    const keys = usableSecrets(secrets);
    if (keys.length === 0) return NO_SECRET;
    if (!matchesAny(keys.map((key) => signature(key, timestamp, call.rawBody)), [given])) {
      return invalid(`${SIGNATURE_HEADER} does not match the body under the source's secrets`);
    }
    // Checked after the signature, so a stale verdict always concerns a genuine (replayed) call.
    return checkTimestamp(seconds, call.nowMs);
  },

  /**
   * The Events API posts JSON. Slash commands post a form, and interactivity posts a form whose one
   * field, `payload`, holds the JSON: that JSON is the event's data, not the form around it.
   */
  parseBody(call) {
    const text = bodyText(call);
    if (mediaType(call) !== FORM_CONTENT_TYPE) return JSON.parse(text);
    const form = new URLSearchParams(text);
    const payload = form.get('payload');
    if (payload !== null) return JSON.parse(payload);
    const fields = Object.fromEntries(form);
    if (Object.keys(fields).length === 0) throw new Error('empty form');
    return fields;
  },

  /** Only the Events API has an id (`event_id`); commands and interactions have none to dedupe on. */
  describe(call, body) {
    const envelope = asRecord(body);
    const command = stringField(envelope?.command);
    const eventType =
      stringField(asRecord(envelope?.event)?.type) ??
      stringField(envelope?.type) ??
      (command ? command.replace(/^\/+/, '') || null : null);
    return { eventType, dedupKey: stringField(envelope?.event_id), sourceHeaders: pickHeaders(call, KEPT_HEADERS) };
  },

  signedSample(secret, nowMs) {
    const seconds = unixSeconds(nowMs);
    const token = () => randomUUID().replaceAll('-', '').slice(0, 10).toUpperCase();
    const channel = `C${token()}`;
    const ts = `${seconds}.${String(nowMs % 1_000_000).padStart(6, '0')}`;
    const body = JSON.stringify({
      token: 'XXYYZZ',
      team_id: `T${token()}`,
      api_app_id: `A${token()}`,
      event: {
        type: 'app_mention',
        user: `U${token()}`,
        text: '<@U0LAN0Z89> is the build green?',
        ts,
        channel,
        event_ts: ts,
      },
      type: 'event_callback',
      event_id: `Ev${token()}`,
      event_time: seconds,
      authorizations: [{ enterprise_id: null, team_id: `T${token()}`, user_id: `U${token()}`, is_bot: true }],
      event_context: `4-${randomUUID()}`,
    });
    const timestamp = String(seconds);
    return {
      body,
      contentType: JSON_CONTENT_TYPE,
      headers: {
        'content-type': JSON_CONTENT_TYPE,
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: `${VERSION}=${signature(secret, timestamp, body).toString('hex')}`,
      },
    };
  },
};
