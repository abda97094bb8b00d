import { randomBytes } from 'node:crypto';
import envSchema from 'env-schema';
import { Type, type Static } from 'typebox';
import { parsePortList, type PortRange } from '@hookrelay/domain';

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
  /** Comma-separated ports and ranges deliveries may connect to (`80,443,8000-9000`); unset means any port. */
  HOOKRELAY_ALLOWED_PORTS: Type.Optional(Type.String()),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  HOOKRELAY_REDIS_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'hookrelay' }),
  HOOKRELAY_WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  /** Port of the worker's Prometheus `/metrics` server, bound to HOST; 0 turns it off. */
  HOOKRELAY_WORKER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  HOOKRELAY_DELIVERY_TIMEOUT_MS: Milliseconds(15_000, 100),
  HOOKRELAY_JOB_LOCK_MS: Milliseconds(45_000, 1_000),
  HOOKRELAY_STALLED_INTERVAL_MS: Milliseconds(30_000, 100),
  HOOKRELAY_RECONCILE_INTERVAL_MS: Milliseconds(15_000, 100),
  HOOKRELAY_RECONCILE_GRACE_MS: Milliseconds(60_000, 0),
  HOOKRELAY_SHUTDOWN_TIMEOUT_MS: Milliseconds(25_000, 0),
  HOOKRELAY_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 30 }),
  /**
   * Requests per second each tenant may make to /v1 (and each source may receive at /in/:id), counted
   * in fixed windows of HOOKRELAY_API_RATE_WINDOW_SECONDS: a window allows limit × window requests. 0 turns it off.
   */
  HOOKRELAY_API_RATE_LIMIT: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 100 }),
  HOOKRELAY_API_RATE_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 10 }),
  /** Wrong API keys or admin tokens one client IP may send per minute before it gets 429s; 0 turns it off. */
  HOOKRELAY_AUTH_FAILURE_LIMIT: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 100 }),
  /** Live (not deleted) subscriptions and sources one tenant may have; 0 means no cap. */
  HOOKRELAY_MAX_SUBSCRIPTIONS_PER_TENANT: Type.Integer({ minimum: 0, default: 1000 }),
  HOOKRELAY_MAX_SOURCES_PER_TENANT: Type.Integer({ minimum: 0, default: 100 }),
  /** AES-256-GCM key (base64 of 32 bytes) that encrypts signing secrets at rest; required in production. */
  HOOKRELAY_ENCRYPTION_KEY: Type.Optional(Type.String()),
  /** Comma-separated retired keys (base64 of 32 bytes each) that still decrypt what they wrote. */
  HOOKRELAY_ENCRYPTION_OLD_KEYS: Type.Optional(Type.String()),
});

export type RawConfig = Static<typeof ConfigSchema>;

export interface Config extends Omit<RawConfig, 'ADMIN_TOKEN'> {
  ADMIN_TOKEN: string;
  /** True when ADMIN_TOKEN was not set and a fresh one was made for this process. */
  adminTokenGenerated: boolean;
  /** Decoded HOOKRELAY_ENCRYPTION_KEY (current) and HOOKRELAY_ENCRYPTION_OLD_KEYS (old). */
  encryptionKeys: { current: Buffer; old: Buffer[] };
  /** True when HOOKRELAY_ENCRYPTION_KEY was not set and the fixed development key is in use. */
  encryptionKeyIsDevelopment: boolean;
  /** Parsed HOOKRELAY_ALLOWED_PORTS; null means deliveries may use any port. */
  allowedPorts: PortRange[] | null;
}

/**
 * The key secrets are encrypted under outside production when HOOKRELAY_ENCRYPTION_KEY is unset.
 * It is public (it is right here), so it protects nothing: it only keeps local runs setup-free.
 */
export const DEVELOPMENT_ENCRYPTION_KEY = Buffer.from('hookrelay-INSECURE-dev-only-key!').toString('base64');

/** Decodes one base64 key of 32 bytes, or throws a ConfigError naming the variable. */
function encryptionKey(value: string, variable: string): Buffer {
  const trimmed = value.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new ConfigError(`Invalid configuration: ${variable} must be base64 (of 32 random bytes: \`openssl rand -base64 32\`)`);
  }
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(
      `Invalid configuration: ${variable} must be base64 of exactly 32 bytes, got ${key.length} (make one with \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

function encryptionKeysOf(raw: RawConfig): Pick<Config, 'encryptionKeys' | 'encryptionKeyIsDevelopment'> {
  const production = raw.NODE_ENV === 'production';
  if (!raw.HOOKRELAY_ENCRYPTION_KEY && production) {
    throw new ConfigError('Invalid configuration: HOOKRELAY_ENCRYPTION_KEY is required when NODE_ENV=production');
  }
  const current = encryptionKey(raw.HOOKRELAY_ENCRYPTION_KEY ?? DEVELOPMENT_ENCRYPTION_KEY, 'HOOKRELAY_ENCRYPTION_KEY');
  if (production && current.equals(Buffer.from(DEVELOPMENT_ENCRYPTION_KEY, 'base64'))) {
    throw new ConfigError('Invalid configuration: HOOKRELAY_ENCRYPTION_KEY must not be the development key when NODE_ENV=production');
  }
  const old = (raw.HOOKRELAY_ENCRYPTION_OLD_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '')
    .map((k, i) => encryptionKey(k, `HOOKRELAY_ENCRYPTION_OLD_KEYS (key ${i + 1})`));
  return { encryptionKeys: { current, old }, encryptionKeyIsDevelopment: !raw.HOOKRELAY_ENCRYPTION_KEY };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates the environment. Throws a ConfigError whose message names the bad variable.
 * Outside production a missing ADMIN_TOKEN is generated so local runs need no setup, and a missing
 * HOOKRELAY_ENCRYPTION_KEY falls back to DEVELOPMENT_ENCRYPTION_KEY (entry points warn about it).
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
  let allowedPorts: PortRange[] | null;
  try {
    allowedPorts = parsePortList(raw.HOOKRELAY_ALLOWED_PORTS);
  } catch (err) {
    throw new ConfigError(
      `Invalid configuration: HOOKRELAY_ALLOWED_PORTS must be a comma-separated list of ports or ranges like 80,443,8000-9000: ${(err as Error).message}`,
    );
  }
  const adminTokenGenerated = !raw.ADMIN_TOKEN;
  return {
    ...raw,
    ADMIN_TOKEN: raw.ADMIN_TOKEN ?? randomBytes(24).toString('base64url'),
    adminTokenGenerated,
    allowedPorts,
    ...encryptionKeysOf(raw),
  };
}

export * from './logger.ts';
export * from './shutdown.ts';

/** Logged at the start of every process that runs on the fixed development key. */
export function warnAboutDevelopmentKey(
  config: Pick<Config, 'encryptionKeyIsDevelopment'>,
  logger: { warn(msg: string): void },
): void {
  if (config.encryptionKeyIsDevelopment) {
    logger.warn(
      'HOOKRELAY_ENCRYPTION_KEY is not set: signing secrets are encrypted under the public DEVELOPMENT key, ' +
        'which protects nothing. Set HOOKRELAY_ENCRYPTION_KEY (`openssl rand -base64 32`) outside local development.',
    );
  }
}

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
