interface Waiter {
  wake(): void;
  timer: NodeJS.Timeout;
}

/**
 * Short waits inside the worker for an endpoint's in-flight slot. An endpoint at its
 * `maxInFlight` cap usually frees a slot within milliseconds; putting the job back on the queue
 * instead would cost it a whole deferral (hundreds of milliseconds at least). Jobs wait in line
 * per endpoint: a slot this process frees wakes the first in line at once, and only the first
 * polls the gate for slots freed by other processes, so a long line costs Redis nothing more.
 * A job waits `maxWaitMs` at most, and only while the endpoint holds fewer than `perEndpoint` of
 * this process's slots (attempts in flight here plus jobs waiting here), so an endpoint that
 * holds its slots (one that times out) never takes more than that; the rest are deferred as
 * before.
 */
export class SlotWaits {
  private readonly lines = new Map<string, Waiter[]>();
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly perEndpoint = 4,
    readonly maxWaitMs = 100,
    private readonly pollMs = 5,
  ) {}

  /** Whether one more job may wait for `endpointId` now. */
  canWait(endpointId: string): boolean {
    return (this.inFlight.get(endpointId) ?? 0) + (this.lines.get(endpointId)?.length ?? 0) < this.perEndpoint;
  }

  /** An attempt to `endpointId` was admitted in this process. */
  started(endpointId: string): void {
    this.inFlight.set(endpointId, (this.inFlight.get(endpointId) ?? 0) + 1);
  }

  /** That attempt is over (whatever happened): its slot no longer counts here. */
  finished(endpointId: string): void {
    const n = (this.inFlight.get(endpointId) ?? 1) - 1;
    if (n > 0) this.inFlight.set(endpointId, n);
    else this.inFlight.delete(endpointId);
  }

  /** Resolves when the caller should ask the gate again (woken, polled, or `ms` passed). */
  wait(endpointId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let line = this.lines.get(endpointId);
      if (!line) this.lines.set(endpointId, (line = []));
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(waiter.timer);
          const at = line.indexOf(waiter);
          if (at >= 0) line.splice(at, 1);
          if (line.length === 0) this.lines.delete(endpointId);
          else if (at === 0) this.schedule(line[0]!, this.pollMs); // the next in line takes over polling
          resolve();
        },
        timer: undefined as unknown as NodeJS.Timeout,
      };
      line.push(waiter);
      this.schedule(waiter, line.length === 1 ? Math.min(ms, this.pollMs) : ms);
    });
  }

  /** This process just freed a slot of `endpointId` at the gate: the first in line asks again. */
  released(endpointId: string): void {
    this.lines.get(endpointId)?.[0]?.wake();
  }

  private schedule(waiter: Waiter, ms: number): void {
    clearTimeout(waiter.timer);
    waiter.timer = setTimeout(waiter.wake, Math.max(0, ms));
  }
}
