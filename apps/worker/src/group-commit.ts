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
    private readonly maxBatch = 500,
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
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        await this.write(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.writing = false;
    this.markIdle();
  }
}
