import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/** The HTML pages the API serves: Swagger UI and Bull Board (with their assets and XHR routes). */
export const UI_PATH_PREFIXES = ['/docs', '/admin/queues'];

/**
 * JSON answers load nothing: a CSP that allows nothing and may not be framed, as for any API.
 * Upgrade-insecure-requests is left out everywhere: the API is often reached over plain HTTP
 * inside a network, where it would send the pages' assets to an https:// nobody serves.
 */
const API_POLICY: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
};

/**
 * The pages get Helmet's default policy (scripts and styles from the same origin, Bull Board's
 * inline style attributes and its Google Fonts stylesheet, data: images), less the upgrade.
 */
const UI_POLICY: HelmetOptions = { contentSecurityPolicy: { useDefaults: true, directives: { upgradeInsecureRequests: null } } };

const isUiRoute = (url: string) => UI_PATH_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`));

/**
 * The headers Helmet sets for a policy, worked out once. The policies hold no per-request part
 * (no nonces), and Helmet's Fastify plugin built Helmet's middleware again for every request:
 * 4 % of the API's CPU under ingest load.
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: string | number) => (headers[name.toLowerCase()] = String(value)),
    // X-Powered-By, which Fastify never sets.
    removeHeader: () => {},
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

/**
 * Security headers on every answer (nosniff, HSTS, frame and referrer policies, a CSP).
 * Register before any route: the UI routes registered later get the relaxed CSP.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  const api = helmetHeaders(API_POLICY);
  const ui = helmetHeaders(UI_POLICY);
  app.addHook('onRoute', (route) => {
    if (isUiRoute(route.url ?? route.path ?? '')) route.config = { ...(route.config ?? {}), uiPage: true } as typeof route.config;
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers((request.routeOptions.config as { uiPage?: boolean }).uiPage ? ui : api);
    done();
  });
}
