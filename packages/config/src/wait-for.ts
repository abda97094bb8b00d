import type { Logger } from 'pino';

/**
 * Runs `attempt` until it succeeds, waiting longer after each failure (0.5 s doubling to 15 s)
 * and logging why: a process started before Postgres or Redis is up waits for them instead of
 * crashing in a loop.
 */
export async function waitFor<T>(what: string, attempt: () => Promise<T>, logger: Logger): Promise<T> {
  let delay = 500;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      logger.warn({ err: (err as Error).message, tries, retryInMs: delay }, `${what} is not available yet; waiting`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }
}
