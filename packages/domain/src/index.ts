export * from './api-keys.ts';
export * from './signing.ts';
export * from './retry-policy.ts';
export * from './event-types.ts';
export * from './custom-headers.ts';
export * from './network.ts';
export * from './endpoint-protection.ts';
export * from './inbound/index.ts';
