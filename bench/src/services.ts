import { randomBytes } from 'node:crypto';
import { Child, freePort, spawnEntry } from './processes.ts';
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
  const child = spawnEntry('api', 'apps/api/src/main.ts', { ...env, PORT: String(port) });
  const baseUrl = `http://127.0.0.1:${port}`;
  const ready = await waitUntil(async () => {
    if (child.process.exitCode !== null) throw new Error('the API exited during start-up');
    return fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
  }, 60_000, 100);
  if (!ready) throw new Error('the API did not become ready within 60 s');
  return { child, baseUrl, adminToken: env.ADMIN_TOKEN! };
}

export function startWorkers(env: Record<string, string>, count: number): Child[] {
  return Array.from({ length: count }, (_, i) => spawnEntry(`worker ${i + 1}`, 'apps/worker/src/main.ts', env));
}
