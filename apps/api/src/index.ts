export { buildApp, BODY_LIMIT, type AppDeps } from './app.ts';
