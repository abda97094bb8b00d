export * from './endpoint-guard.ts';
export * from './endpoint-holds.ts';
export * from './hold-notices.ts';
