import { randomInt, randomUUID } from 'node:crypto';
import { JSON_CONTENT_TYPE, header, parseJsonBody, pickHeaders } from './common.ts';
import { signBody, verifyBodyHmac, type BodyHmacScheme } from './body-hmac.ts';
import type { ProviderAdapter } from './types.ts';

/** Only the SHA-256 signature counts; the legacy SHA-1 `x-hub-signature` is ignored. */
const SCHEME: BodyHmacScheme = { header: 'x-hub-signature-256', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=' };
const LEGACY_HEADER = 'x-hub-signature';
const KEPT_HEADERS = ['x-github-event', 'x-github-delivery', 'x-github-hook-id'] as const;

export const githubProvider: ProviderAdapter = {
  name: 'github',

  verify(call, secrets) {
    const verdict = verifyBodyHmac(call, secrets, SCHEME);
    if (!verdict.ok && verdict.reason === 'missing_signature' && header(call, LEGACY_HEADER) !== undefined) {
      return { ...verdict, message: `${verdict.message} (the SHA-1 ${LEGACY_HEADER} is not accepted)` };
    }
    return verdict;
  },

  parseBody: parseJsonBody,

  /**
   * The event is named by a header, not the body: a body's `action` (e.g. `opened`) is a sub-kind
   * that subscriptions can filter on in the data. `X-GitHub-Delivery` stays the same when a
   * delivery is redelivered by hand, which is exactly what de-duplication wants.
   */
  describe(call) {
    return {
      eventType: header(call, 'x-github-event') ?? null,
      dedupKey: header(call, 'x-github-delivery') ?? null,
      sourceHeaders: pickHeaders(call, KEPT_HEADERS),
    };
  },

  signedSample(secret, nowMs) {
    const seconds = Math.floor(nowMs / 1000);
    const sha = () => randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', '').slice(0, 8);
    const [before, after] = [sha(), sha()];
    const repo = { id: 1_296_269, name: 'hello-world', full_name: 'octocat/hello-world', private: false, html_url: 'https://github.com/octocat/hello-world', default_branch: 'main' };
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before,
      after,
      created: false,
      deleted: false,
      forced: false,
      compare: `https://github.com/octocat/hello-world/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
      commits: [
        {
          id: after,
          message: 'Fix the retry schedule',
          timestamp: new Date(nowMs).toISOString(),
          author: { name: 'The Octocat', email: 'octocat@github.com', username: 'octocat' },
          added: [],
          removed: [],
          modified: ['src/retry.ts'],
        },
      ],
      head_commit: { id: after, message: 'Fix the retry schedule', timestamp: new Date(nowMs).toISOString() },
      repository: { ...repo, pushed_at: seconds },
      pusher: { name: 'octocat', email: 'octocat@github.com' },
      sender: { login: 'octocat', id: 583_231, type: 'User' },
    });
    return {
      body,
      contentType: JSON_CONTENT_TYPE,
      headers: {
        'content-type': JSON_CONTENT_TYPE,
        'user-agent': 'GitHub-Hookshot/sample',
        'x-github-event': 'push',
        'x-github-delivery': randomUUID(),
        'x-github-hook-id': String(randomInt(100_000_000, 999_999_999)),
        [SCHEME.header]: signBody(secret, body, SCHEME),
      },
    };
  },
};
