export { startWorker, type WorkerConfig, type WorkerHandle } from './worker.ts';
export { USER_AGENT } from './user-agent.ts';
export { replayDeadDeliveries } from './replay.ts';
export { runRetention } from './retention.ts';
