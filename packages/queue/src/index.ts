export * from './connection.ts';
export * from './delivery-queue.ts';
