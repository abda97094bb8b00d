export { buildApp, BODY_LIMIT, type AppDeps } from './app.ts';
export { apiLimitsFromConfig, DEFAULT_API_LIMITS, type ApiLimits } from './limits.ts';
