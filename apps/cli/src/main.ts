import { parseArgs } from 'node:util';
import { loadConfigOrExit, warnAboutDevelopmentKey } from '@hookrelay/config';
import { createDb, prepareDatabase } from '@hookrelay/db';
import { EndpointGuard } from '@hookrelay/protection';
import { createQueues, createRedis } from '@hookrelay/queue';
import { COMMANDS, UsageError, usage } from './commands.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { since: { type: 'string' }, until: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
const [name, ...args] = positionals;
const command = name ? COMMANDS[name] : undefined;
if (values.help || !command) {
  console.log(usage());
  process.exit(command || values.help ? 0 : 2);
}

const config = loadConfigOrExit();
warnAboutDevelopmentKey(config, { warn: (message) => console.error(`warning: ${message}`) });
await prepareDatabase(config.DATABASE_URL);
const db = createDb(config.DATABASE_URL, { max: 2, encryptionKeys: config.encryptionKeys });
const redis = createRedis(config.REDIS_URL, 'worker');
const queues = createQueues(redis, config.HOOKRELAY_REDIS_PREFIX);
let code = 0;
try {
  await command.run({ config, db, queues, guard: new EndpointGuard(redis, config.HOOKRELAY_REDIS_PREFIX), out: (l) => console.log(l) }, args, values as Record<string, string | undefined>);
} catch (err) {
  console.error(err instanceof UsageError ? `error: ${err.message}\n\n${usage()}` : err);
  code = err instanceof UsageError ? 2 : 1;
} finally {
  await queues.close();
  redis.disconnect();
  await db.close();
}
process.exit(code);
