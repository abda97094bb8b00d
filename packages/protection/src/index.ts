export * from './endpoint-guard.ts';
export * from './endpoint-holds.ts';
