import { randomBytes } from 'node:crypto';
import type { Context } from './context.ts';
import { freePort } from '@hookrelay/testing/tcp-proxy';
import { Child, spawnEntry } from './processes.ts';
import { REDIS_URL, type Sandbox } from './infra.ts';
import { waitUntil } from './stats.ts';

/**
 * How the bench runs Hookrelay: production settings, except that receivers on 127.0.0.1 are
 * allowed and the per-tenant API rate limit is raised out of the way (still checked on every
 * request, so its cost is measured). Logs go to /dev/null at the default level (info).
 */
export function serviceEnv(sandbox: Sandbox, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: sandbox.databaseUrl,
    REDIS_URL,
    HOOKRELAY_REDIS_PREFIX: sandbox.redisPrefix,
    HOST: '127.0.0.1',
    HOOKRELAY_ALLOW_PRIVATE_NETWORKS: 'true',
    HOOKRELAY_API_RATE_LIMIT: '1000000',
    HOOKRELAY_WORKER_METRICS_PORT: '0',
    HOOKRELAY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: `bench-admin-${randomBytes(12).toString('hex')}`,
    ...extra,
  };
}

export interface Api {
  child: Child;
  baseUrl: string;
  adminToken: string;
}

export async function startApi(env: Record<string, string>): Promise<Api> {
  const port = await freePort();
  const child = spawnEntry('api', 'api', { ...env, PORT: String(port) });
  const baseUrl = `http://127.0.0.1:${port}`;
  const ready = await waitUntil(async () => {
    if (child.process.exitCode !== null) throw new Error('the API exited during start-up');
    return fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
  }, 60_000, 100);
  if (!ready) throw new Error('the API did not become ready within 60 s');
  return { child, baseUrl, adminToken: env.ADMIN_TOKEN! };
}

export function startWorkers(env: Record<string, string>, count: number): Child[] {
  return Array.from({ length: count }, (_, i) => spawnEntry(`worker ${i + 1}`, 'worker', env));
}

export interface BenchStack {
  sandbox: Sandbox;
  env: Record<string, string>;
  api: Api;
  /** The API first, then every worker started. */
  children: Child[];
  startWorkers(count: number): Child[];
  /** Stops every process (workers first) and drops the sandbox. */
  stop(): Promise<void>;
}

/** A scenario's own database and Redis prefix, with the API and `workers` worker processes running on them. */
export async function startStack(ctx: Context, workers = 0): Promise<BenchStack> {
  const sandbox = await ctx.sandboxes.open();
  const env = serviceEnv(sandbox, { HOOKRELAY_WORKER_CONCURRENCY: String(ctx.opts.concurrency) });
  const api = await startApi(env);
  const children = [api.child];
  const stack: BenchStack = {
    sandbox,
    env,
    api,
    children,
    startWorkers(count) {
      const started = startWorkers(env, count);
      children.push(...started);
      return started;
    },
    async stop() {
      for (const c of [...children].reverse()) await c.stop();
      await sandbox.drop();
    },
  };
  stack.startWorkers(workers);
  return stack;
}
