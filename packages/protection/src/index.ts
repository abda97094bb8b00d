export * from './endpoint-guard.ts';
