/**
 * Collects items from concurrent callers and writes them in batches: while one batch is being
 * written, the next accumulates. Each caller's promise settles when its own batch is committed
 * (with its item's result, when `write` answers one per item), so nothing is acknowledged before
 * it is durable, and a busy process pays one round trip (and one WAL flush) per batch rather
 * than one per item.
 */
export class GroupCommit<T, R = void> {
  private queue: { item: T; resolve: (result: R) => void; reject: (err: unknown) => void }[] = [];
  private writers = 0;
  private scheduled = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(
    private readonly write: (items: T[]) => Promise<R[] | void>,
    private readonly options: {
      maxBatch?: number;
      /**
       * Batches written at once (default 1). More than one lets the database flush several
       * commits together, so throughput is not bound by one commit's latency.
       */
      concurrency?: number;
      /**
       * How many items must wait before a batch starts beside one already being written (default
       * 1: any). Below it they wait for the write under way and go in its successor: at a moderate
       * rate a second writer would only halve every batch, and each batch costs a round trip and a
       * wake-up of every process downstream; under load the queue passes it at once.
       */
      overlapAt?: number;
      /** Whether a failed write is worth trying again (the database was unreachable, say). */
      retryable?: (err: unknown) => boolean;
      /** How long a batch is retried before its callers are told it failed. */
      retryForMs?: number;
      onRetry?: (err: unknown, waitMs: number) => void;
      /**
       * How long a batch that would start while no batch is being written waits for company
       * (default 0: until the end of the turn). Under load batches fill while the previous one
       * is written and never wait; at a moderate rate each item would otherwise be a round trip
       * (and a wake-up of the database's process) of its own.
       */
      lingerMs?: number;
    } = {},
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.writers === 0 && !this.scheduled) this.idle = new Promise((r) => (this.markIdle = r));
      // Items added in the same turn of the event loop share a batch.
      if (!this.scheduled && this.mayStart()) {
        this.scheduled = true;
        const run = () => {
          this.scheduled = false;
          this.pump();
        };
        const linger = this.writers === 0 ? (this.options.lingerMs ?? 0) : 0;
        if (linger > 0) setTimeout(run, linger);
        else setImmediate(run);
      }
    });
  }

  /** Resolves once everything added so far has been written (or has failed). */
  flushed(): Promise<void> {
    return this.idle;
  }

  /** Whether the queue may start a batch now (it holds at least one item). */
  private mayStart(): boolean {
    if (this.writers === 0) return true;
    return this.writers < (this.options.concurrency ?? 1) && this.queue.length >= (this.options.overlapAt ?? 1);
  }

  private pump(): void {
    while (this.queue.length > 0 && this.mayStart()) {
      const batch = this.queue.splice(0, this.options.maxBatch ?? 500);
      this.writers++;
      void this.writeBatch(batch).finally(() => {
        this.writers--;
        if (this.queue.length > 0) this.pump();
        else if (this.writers === 0 && !this.scheduled) this.markIdle();
      });
    }
  }

  private async writeBatch(batch: typeof this.queue): Promise<void> {
    try {
      const results = await this.writeWithRetry(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results ? results[i]! : (undefined as R)));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  /**
   * A result already earned (the receiver answered) is held and written again while the database
   * is briefly unreachable, rather than dropped and earned twice: the caller keeps waiting, and
   * its job keeps its lock meanwhile.
   */
  private async writeWithRetry(items: T[]): Promise<R[] | void> {
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
