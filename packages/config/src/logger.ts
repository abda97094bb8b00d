import { pino, type Logger, type LoggerOptions } from 'pino';
import type { Config } from './index.ts';

/** Paths that may carry credentials or signatures; pino replaces their values before writing. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.secret',
  '*.previousSecret',
  '*.secrets',
  '*.apiKey',
  '*["webhook-signature"]',
];

export function loggerOptions(config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>, name: string): LoggerOptions {
  return {
    name,
    level: config.LOG_LEVEL,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Pretty output is for people at a terminal in development; everything else gets JSON lines.
    ...(config.NODE_ENV === 'development' && process.stdout.isTTY
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  };
}

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>, name: string): Logger {
  return pino(loggerOptions(config, name));
}
