/**
 * Collects items from concurrent callers and writes them in batches: while one batch is being
 * written, the next accumulates. Each caller's promise settles when its own batch is committed,
 * so nothing is acknowledged before it is durable, and a busy worker pays one round trip per
 * batch rather than one per item.
 */
export class GroupCommit<T> {
  private queue: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly options: {
      maxBatch?: number;
      /** Whether a failed write is worth trying again (the database was unreachable, say). */
      retryable?: (err: unknown) => boolean;
      /** How long a batch is retried before its callers are told it failed. */
      retryForMs?: number;
      onRetry?: (err: unknown, waitMs: number) => void;
    } = {},
  ) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        this.idle = new Promise((r) => (this.markIdle = r));
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Resolves once everything added so far has been written (or has failed). */
  flushed(): Promise<void> {
    return this.idle;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch ?? 500);
      try {
        await this.writeWithRetry(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.writing = false;
    this.markIdle();
  }

  /**
   * A result already earned (the receiver answered) is held and written again while the database
   * is briefly unreachable, rather than dropped and earned twice: the caller keeps waiting, and
   * its job keeps its lock meanwhile.
   */
  private async writeWithRetry(items: T[]): Promise<void> {
    const { retryable = () => false, retryForMs = 0, onRetry } = this.options;
    const giveUpAt = Date.now() + retryForMs;
    for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        return await this.write(items);
      } catch (err) {
        if (!retryable(err) || Date.now() + wait > giveUpAt) throw err;
        onRetry?.(err, wait);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}
