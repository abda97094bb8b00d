export * from './api-client.ts';
export * from './database.ts';
export * from './metrics.ts';
export * from './receiver.ts';
export * from './redis.ts';
export * from './stack.ts';
export * from './tcp-proxy.ts';
