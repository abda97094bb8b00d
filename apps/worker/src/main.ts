import { createLogger, loadConfigOrExit, onShutdown, waitFor, warnAboutDevelopmentKey } from '@hookrelay/config';
import { prepareDatabase } from '@hookrelay/db';
import { startWorker } from './worker.ts';

const config = loadConfigOrExit();
const logger = createLogger(config, 'worker');
warnAboutDevelopmentKey(config, logger);
await waitFor('postgres', () => prepareDatabase(config.DATABASE_URL), logger);
const worker = await startWorker(config, logger);
onShutdown(logger, () => worker.close());
