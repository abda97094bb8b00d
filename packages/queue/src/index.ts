export * from './connection.ts';
export * from './delivery-queue.ts';
export * from './maintenance-queue.ts';
