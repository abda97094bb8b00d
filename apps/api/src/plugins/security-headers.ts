import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** The HTML pages the API serves: Swagger UI and Bull Board (with their assets and XHR routes). */
export const UI_PATH_PREFIXES = ['/docs', '/admin/queues'];

/**
 * JSON answers load nothing: a CSP that allows nothing and may not be framed, as for any API.
 * Upgrade-insecure-requests is left out everywhere: the API is often reached over plain HTTP
 * inside a network, where it would send the pages' assets to an https:// nobody serves.
 */
const API_CSP = {
  useDefaults: false,
  directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
};

/**
 * The pages get Helmet's default policy (scripts and styles from the same origin, Bull Board's
 * inline style attributes and its Google Fonts stylesheet, data: images), less the upgrade.
 */
const UI_CSP = { useDefaults: true, directives: { upgradeInsecureRequests: null } };

const isUiRoute = (url: string) => UI_PATH_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`));

/**
 * Security headers on every answer (nosniff, HSTS, frame and referrer policies, no X-Powered-By).
 * Register before any route: the UI routes registered later get the relaxed CSP.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    if (isUiRoute(route.url ?? route.path ?? '')) {
      route.config = { ...(route.config ?? {}), helmet: { contentSecurityPolicy: UI_CSP } } as typeof route.config;
    }
  });
  const options: FastifyHelmetOptions = { global: true, contentSecurityPolicy: API_CSP };
  await app.register(helmet, options);
}
