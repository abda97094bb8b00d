import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig, type Config } from '@hookrelay/config';
import { createDb, type Db } from '@hookrelay/db';
import { createQueues, createRedis, type Queues } from '@hookrelay/queue';
import { apiLimitsFromConfig, buildApp } from '@hookrelay/api';
import { startWorker, type WorkerHandle } from '@hookrelay/worker';
import { ApiClient } from './api-client.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { deleteRedisKeys, testPrefix, TEST_REDIS_URL } from './redis.ts';

/** Short timeouts so retries, stalls and reconciliation happen within a test's time. */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  HOOKRELAY_ALLOW_PRIVATE_NETWORKS: 'true',
  HOOKRELAY_WORKER_CONCURRENCY: '10',
  // Off: in-process workers would all want the same port. A test that scrapes picks a free one.
  HOOKRELAY_WORKER_METRICS_PORT: '0',
  HOOKRELAY_DELIVERY_TIMEOUT_MS: '2000',
  HOOKRELAY_JOB_LOCK_MS: '4000',
  HOOKRELAY_STALLED_INTERVAL_MS: '1000',
  HOOKRELAY_RECONCILE_INTERVAL_MS: '500',
  HOOKRELAY_RECONCILE_GRACE_MS: '1500',
  HOOKRELAY_SHUTDOWN_TIMEOUT_MS: '3000',
  // A key of the tests' own (not the development fallback), so tests run as production would.
  HOOKRELAY_ENCRYPTION_KEY: Buffer.from('hookrelay-test-encryption-key-32').toString('base64'),
};

export interface StackOptions {
  /** In-process workers to start with the API (default 1). */
  workers?: number;
  env?: Record<string, string>;
}

export interface Tenant {
  id: string;
  apiKey: string;
  client: ApiClient;
}

const repoFile = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

/**
 * An API (listening on 127.0.0.1) and workers over a database and Redis prefix of their own.
 * `close()` stops everything and removes the database and every Redis key it made.
 */
export class Stack {
  readonly workers: WorkerHandle[] = [];
  readonly children = new Set<ChildProcess>();
  readonly admin: ApiClient;
  readonly anonymous: ApiClient;

  private constructor(
    readonly env: Record<string, string>,
    readonly config: Config,
    readonly database: TestDatabase,
    readonly db: Db,
    readonly queues: Queues,
    readonly redis: ReturnType<typeof createRedis>,
    private readonly app: Awaited<ReturnType<typeof buildApp>>,
    readonly baseUrl: string,
  ) {
    this.anonymous = new ApiClient(baseUrl);
    this.admin = this.anonymous.withToken(config.ADMIN_TOKEN);
  }

  static async start(options: StackOptions = {}): Promise<Stack> {
    const database = await createTestDatabase();
    const env: Record<string, string> = {
      ...TEST_ENV,
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      HOOKRELAY_REDIS_PREFIX: testPrefix(),
      ADMIN_TOKEN: `test-admin-${Math.random().toString(36).slice(2)}-token`,
      ...options.env,
    };
    const config = loadConfig(env);
    const db = createDb(config.DATABASE_URL, { max: 5, encryptionKeys: config.encryptionKeys });
    const redis = createRedis(config.REDIS_URL, 'producer');
    redis.on('error', () => {}); // outages are part of some tests; readiness reports them
    const queues = createQueues(redis, config.HOOKRELAY_REDIS_PREFIX);
    const app = await buildApp({
      db,
      queues,
      redis,
      redisPrefix: config.HOOKRELAY_REDIS_PREFIX,
      adminToken: config.ADMIN_TOKEN,
      logger: false,
      limits: apiLimitsFromConfig(config),
    });
    const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    const stack = new Stack(env, config, database, db, queues, redis, app, baseUrl);
    for (let i = 0; i < (options.workers ?? 1); i++) await stack.startWorker();
    return stack;
  }

  async startWorker(): Promise<WorkerHandle> {
    const handle = await startWorker(this.config, pino({ level: this.config.LOG_LEVEL }));
    this.workers.push(handle);
    return handle;
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.close()));
  }

  /** Runs an app's real entry point as its own process, with this stack's environment. */
  spawn(app: 'worker' | 'api', env: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), repoFile(`apps/${app}/src/main.ts`)], {
      env: { ...process.env, ...this.env, ...env },
      // Inherit output only when asked to: an unread pipe would fill up and stall the child.
      stdio: process.env.TEST_LOG_LEVEL ? 'inherit' : 'ignore',
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  async createTenant(name = 'tenant'): Promise<Tenant> {
    const res = await this.admin.post('/admin/tenants', { name });
    if (res.status !== 201) throw new Error(`creating a tenant failed: ${res.status} ${res.text}`);
    return { id: res.body.id, apiKey: res.body.apiKey, client: this.anonymous.withToken(res.body.apiKey) };
  }

  async close(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    // Every step runs even if an earlier one fails, so a broken test still leaves nothing behind.
    const steps = [
      () => this.stopWorkers(),
      () => this.app.close(),
      () => this.queues.close(),
      async () => this.redis.disconnect(),
      () => this.db.close(),
      () => this.database.drop(),
      () => deleteRedisKeys(this.config.HOOKRELAY_REDIS_PREFIX),
    ];
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw new AggregateError(failures, 'closing the test stack failed');
  }
}

/** Polls `check` until it returns a truthy value; fails with the last value after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 15_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms (last value: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
