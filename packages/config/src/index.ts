import { randomBytes } from 'node:crypto';
import envSchema from 'env-schema';
import { Type, type Static } from 'typebox';

const Milliseconds = (defaultMs: number, minimum = 1) => Type.Integer({ minimum, default: defaultMs });

/** Every variable Hookrelay reads. The README's configuration table mirrors this list. */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0' }),
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/hookrelay' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', default: 'redis://127.0.0.1:6379' }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  HOOKRELAY_PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
  HOOKRELAY_ALLOW_PRIVATE_NETWORKS: Type.Boolean({ default: false }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  HOOKRELAY_REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'hookrelay' }),
  HOOKRELAY_WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  /** Port of the worker's Prometheus `/metrics` server, bound to HOST; 0 turns it off. */
  HOOKRELAY_WORKER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  HOOKRELAY_DELIVERY_TIMEOUT_MS: Milliseconds(15_000, 100),
  HOOKRELAY_JOB_LOCK_MS: Milliseconds(45_000, 1_000),
  HOOKRELAY_STALLED_INTERVAL_MS: Milliseconds(30_000, 100),
  HOOKRELAY_RECONCILE_INTERVAL_MS: Milliseconds(15_000, 100),
  HOOKRELAY_RECONCILE_GRACE_MS: Milliseconds(60_000, 0),
  HOOKRELAY_SHUTDOWN_TIMEOUT_MS: Milliseconds(25_000, 0),
  HOOKRELAY_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 30 }),
});

export type RawConfig = Static<typeof ConfigSchema>;

export interface Config extends Omit<RawConfig, 'ADMIN_TOKEN'> {
  ADMIN_TOKEN: string;
  /** True when ADMIN_TOKEN was not set and a fresh one was made for this process. */
  adminTokenGenerated: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the environment. Throws a ConfigError whose message names the bad variable.
 * Outside production a missing ADMIN_TOKEN is generated so local runs need no setup.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as they do in most shells and compose files.
  const data = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  let raw: RawConfig;
  try {
    raw = envSchema<RawConfig>({ schema: ConfigSchema, data });
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${(err as Error).message.replaceAll('env/', '')}`);
  }
  if (raw.HOOKRELAY_JOB_LOCK_MS < raw.HOOKRELAY_DELIVERY_TIMEOUT_MS + 1_000) {
    throw new ConfigError(
      'Invalid configuration: HOOKRELAY_JOB_LOCK_MS must exceed HOOKRELAY_DELIVERY_TIMEOUT_MS by at least 1000 ms, ' +
        'so that one lock period covers a whole attempt even when a renewal is late',
    );
  }
  if (!raw.ADMIN_TOKEN && raw.NODE_ENV === 'production') {
    throw new ConfigError('Invalid configuration: ADMIN_TOKEN is required when NODE_ENV=production');
  }
  const adminTokenGenerated = !raw.ADMIN_TOKEN;
  return { ...raw, ADMIN_TOKEN: raw.ADMIN_TOKEN ?? randomBytes(24).toString('base64url'), adminTokenGenerated };
}

export * from './logger.ts';
export * from './shutdown.ts';

/** For process entry points: a bad variable ends the process with the message, not a stack trace. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
}
export * from './wait-for.ts';
