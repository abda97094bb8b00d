import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * The webhook receivers: answer 200 at once, except under /hang/, where they never answer (an
 * endpoint that times out). Each request's arrival (its first byte: the headers parsed) is noted
 * against its `webhook-id`, on this process's monotonic clock.
 */
export class BenchReceiver {
  count = 0;
  hung = 0;
  /** webhook-id → arrival (performance.now() ms) of the first request carrying it. */
  readonly arrivals = new Map<string, number>();
  /** Arrival time of the first and latest request, for throughput windows. */
  firstAt = 0;
  lastAt = 0;
  private server!: Server;
  url = '';
  recordArrivals = false;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const at = performance.now();
      if (req.url?.startsWith('/hang/')) {
        this.hung++;
        req.resume();
        return; // never answered: the sender's timeout ends it
      }
      this.count++;
      if (this.firstAt === 0) this.firstAt = at;
      this.lastAt = at;
      if (this.recordArrivals) {
        const id = req.headers['webhook-id'];
        if (typeof id === 'string' && !this.arrivals.has(id)) this.arrivals.set(id, at);
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-length': '0' });
        res.end();
      });
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.headersTimeout = 0;
    this.server.requestTimeout = 0;
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', 1024, r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  reset(): void {
    this.count = 0;
    this.hung = 0;
    this.firstAt = 0;
    this.lastAt = 0;
    this.arrivals.clear();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
