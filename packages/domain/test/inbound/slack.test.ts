import { describe, expect, it } from 'vitest';
import { PROVIDERS, TIMESTAMP_TOLERANCE_MS } from '../../src/inbound/index.ts';
import { NOW, NOW_SECONDS, callOf, expectRejected, hmacOf, sampleCall, signatureContract, without } from './helpers.ts';

const slackProvider = PROVIDERS.slack;
const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const otherSecret = 'c0ffee0ddba11e5b0a7c0ffee0ddba11';
const FORM = 'application/x-www-form-urlencoded';

// Slack's documented vector (api.slack.com "Verifying requests from Slack").
const VECTOR_TIMESTAMP = '1531420618';
const VECTOR_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const VECTOR_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

const eventBody = JSON.stringify({
  token: 'XXYYZZ',
  team_id: 'T123ABC456',
  api_app_id: 'A123ABC456',
  event: { type: 'app_mention', user: 'U123ABC456', text: 'ship it 🚀', channel: 'C123ABC456', ts: '1700000000.000100' },
  type: 'event_callback',
  event_id: 'Ev08MFMKH6',
  event_time: 1_700_000_000,
});

function sign(s: string, payload: string, nowMs: number, contentType = 'application/json') {
  const ts = String(Math.floor(nowMs / 1000));
  return {
    'content-type': contentType,
    'x-slack-request-timestamp': ts,
    'x-slack-signature': `v0=${hmacOf('sha256', s, `v0:${ts}:${payload}`, 'hex')}`,
  };
}

describe('slack', () => {
  signatureContract({
    adapter: slackProvider,
    secret,
    otherSecret,
    body: eventBody,
    sign,
    signatureHeader: 'x-slack-signature',
    forged: `v0=${'3c'.repeat(32)}`,
    tamper: (b) => b.replace('ship it', 'delete it'),
  });

  it("verifies Slack's documented vector at its own time", () => {
    const nowMs = Number(VECTOR_TIMESTAMP) * 1000 + 30_000;
    const headers = { 'content-type': FORM, 'x-slack-request-timestamp': VECTOR_TIMESTAMP, 'x-slack-signature': VECTOR_SIGNATURE };
    expect(slackProvider.verify(callOf(VECTOR_BODY, headers, nowMs), [secret])).toEqual({ ok: true });
    expectRejected(slackProvider.verify(callOf(VECTOR_BODY, headers, nowMs), [otherSecret]), 'invalid_signature');
    // The same genuine call, received much later, is a replay.
    expectRejected(slackProvider.verify(callOf(VECTOR_BODY, headers, NOW), [secret]), 'stale_timestamp');
  });

  it('signs the timestamp: a genuine signature moved to another timestamp fails', () => {
    const headers = sign(secret, eventBody, NOW);
    const moved = { ...headers, 'x-slack-request-timestamp': String(NOW_SECONDS + 1) };
    expectRejected(slackProvider.verify(callOf(eventBody, moved), [secret]), 'invalid_signature');
  });

  it('needs the timestamp header, as unix seconds', () => {
    const headers = sign(secret, eventBody, NOW);
    expectRejected(slackProvider.verify(callOf(eventBody, without(headers, 'x-slack-request-timestamp')), [secret]), 'missing_signature');
    const ms = { ...headers, 'x-slack-request-timestamp': `${NOW_SECONDS}.5` };
    expectRejected(slackProvider.verify(callOf(eventBody, ms), [secret]), 'malformed_signature');
  });

  it('needs the v0= version prefix', () => {
    const headers = sign(secret, eventBody, NOW);
    const v1 = { ...headers, 'x-slack-signature': headers['x-slack-signature'].replace('v0=', 'v1=') };
    expectRejected(slackProvider.verify(callOf(eventBody, v1), [secret]), 'malformed_signature');
  });

  it('refuses stale timestamps in both directions and accepts the edges of the window', () => {
    const tolerance = TIMESTAMP_TOLERANCE_MS;
    for (const skew of [-tolerance - 1000, tolerance + 1000, -86_400_000, 86_400_000]) {
      expectRejected(slackProvider.verify(callOf(eventBody, sign(secret, eventBody, NOW + skew)), [secret]), 'stale_timestamp');
    }
    for (const skew of [-tolerance, tolerance, 0]) {
      expect(slackProvider.verify(callOf(eventBody, sign(secret, eventBody, NOW + skew)), [secret])).toEqual({ ok: true });
    }
  });

  it('describes an Events API call by its event type and event_id, keeping the timestamp and retry headers', () => {
    const headers = { ...sign(secret, eventBody, NOW), 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' };
    const call = callOf(eventBody, headers);
    expect(slackProvider.describe(call, slackProvider.parseBody(call))).toEqual({
      eventType: 'app_mention',
      dedupKey: 'Ev08MFMKH6',
      sourceHeaders: { 'x-slack-request-timestamp': String(NOW_SECONDS), 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
    });
  });

  it('parses a slash command form and names it by the command, without dedup key', () => {
    const call = callOf(VECTOR_BODY, { 'content-type': `${FORM}; charset=utf-8`, 'x-slack-request-timestamp': VECTOR_TIMESTAMP });
    const parsed = slackProvider.parseBody(call) as Record<string, string>;
    expect(parsed.command).toBe('/webhook-collect');
    expect(parsed.response_url).toBe('https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN');
    expect(parsed.text).toBe('');
    expect(slackProvider.describe(call, parsed)).toEqual({ eventType: 'webhook-collect', dedupKey: null, sourceHeaders: { 'x-slack-request-timestamp': VECTOR_TIMESTAMP } });
  });

  it('parses an interactivity form by decoding the JSON in its payload field', () => {
    const interaction = { type: 'block_actions', user: { id: 'U123ABC456' }, actions: [{ action_id: 'approve', value: 'yes & no' }], trigger_id: '13345224609.738474920.8088930838d88f008e0' };
    const formBody = new URLSearchParams({ payload: JSON.stringify(interaction) }).toString();
    const call = callOf(formBody, { ...sign(secret, formBody, NOW, FORM) });
    expect(slackProvider.verify(call, [secret])).toEqual({ ok: true });
    const parsed = slackProvider.parseBody(call);
    expect(parsed).toEqual(interaction);
    expect(slackProvider.describe(call, parsed)).toMatchObject({ eventType: 'block_actions', dedupKey: null });
  });

  it('describes url_verification by its type', () => {
    const body = JSON.stringify({ token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' });
    const call = callOf(body, sign(secret, body, NOW));
    expect(slackProvider.describe(call, slackProvider.parseBody(call))).toMatchObject({ eventType: 'url_verification', dedupKey: null });
  });

  it('refuses a form whose payload is not JSON, and an empty form', () => {
    expect(() => slackProvider.parseBody(callOf('payload=%7Bnot-json', { 'content-type': FORM }))).toThrow();
    expect(() => slackProvider.parseBody(callOf('', { 'content-type': FORM }))).toThrow();
    expect(() => slackProvider.parseBody(callOf(VECTOR_BODY, { 'content-type': 'application/json' }))).toThrow();
  });

  it('signs an event_callback sample with a fresh event_id', () => {
    const sample = slackProvider.signedSample(secret, NOW);
    const ts = sample.headers['x-slack-request-timestamp']!;
    expect(ts).toBe(String(NOW_SECONDS));
    expect(sample.headers['x-slack-signature']).toBe(`v0=${hmacOf('sha256', secret, `v0:${ts}:${sample.body}`, 'hex')}`);
    const call = sampleCall(sample, NOW);
    const description = slackProvider.describe(call, slackProvider.parseBody(call));
    expect(description.dedupKey).toMatch(/^Ev[0-9A-Z]+$/);
    expect(JSON.parse(sample.body).type).toBe('event_callback');
  });
});
