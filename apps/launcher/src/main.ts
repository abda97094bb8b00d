import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfigOrExit, waitFor } from '@hookrelay/config';
import { prepareDatabase } from '@hookrelay/db';

/**
 * `pnpm start`: creates the database if needed, applies migrations, then runs the API and one
 * worker as separate processes (as they run in production) and stops both on SIGINT/SIGTERM.
 */
const config = loadConfigOrExit();
const logger = createLogger(config, 'launcher');
await waitFor('postgres', () => prepareDatabase(config.DATABASE_URL), logger);
logger.info('database ready');

// The bundles `pnpm build` writes (scripts/build.ts): what production runs.
const entry = (name: string) => fileURLToPath(new URL(`../../../dist/${name}.js`, import.meta.url));
// The generated admin token is made once here so the API and the banner agree.
const env = { ...process.env, ADMIN_TOKEN: config.ADMIN_TOKEN };

const children = new Map<string, ChildProcess>();
let stopping = false;

function run(name: 'api' | 'worker') {
  // Own process group: a Ctrl-C reaches the children once, through stop(), not twice (which
  // would skip their graceful shutdown).
  const child = spawn(process.execPath, [entry(name)], { env, stdio: 'inherit', detached: true });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      logger.error({ process: name, code, signal }, 'process exited unexpectedly; stopping the rest');
      stop('SIGTERM', 1);
    } else if (children.size === 0) {
      process.exit(process.exitCode ?? 0);
    }
  });
}

function stop(signal: NodeJS.Signals, exitCode = 0) {
  if (stopping) return;
  stopping = true;
  process.exitCode = exitCode;
  for (const child of children.values()) child.kill(signal);
  if (children.size === 0) process.exit(exitCode);
}

if (config.adminTokenGenerated) {
  console.log(`\nADMIN_TOKEN was not set; this run uses the generated token:\n\n  ${config.ADMIN_TOKEN}\n`);
}
run('api');
run('worker');
// Should the launcher itself die, its children must not outlive it.
process.on('exit', () => {
  for (const child of children.values()) child.kill('SIGKILL');
});
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
