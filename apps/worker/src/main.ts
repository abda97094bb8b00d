import { createLogger, loadConfigOrExit, onShutdown } from '@hookrelay/config';
import { prepareDatabase } from '@hookrelay/db';
import { startWorker } from './worker.ts';

const config = loadConfigOrExit();
const logger = createLogger(config, 'worker');
await prepareDatabase(config.DATABASE_URL);
const worker = await startWorker(config, logger);
onShutdown(logger, () => worker.close());
