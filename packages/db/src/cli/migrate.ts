import { loadConfig } from '@hookrelay/config';
import { prepareDatabase } from '../migrate.ts';

const config = loadConfig();
await prepareDatabase(config.DATABASE_URL);
console.log('database ready: migrations applied');
