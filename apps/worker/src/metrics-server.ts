import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from '@hookrelay/metrics';

export interface MetricsServer {
  /** The port actually bound. */
  port: number;
  close(): Promise<void>;
}

/**
 * A worker has no API of its own, so it serves `GET /metrics` (Prometheus text format, no
 * authentication) from this small server. Rejects when the port cannot be bound; the worker
 * then runs on without metrics and says so.
 */
export async function startMetricsServer(registry: Registry, port: number, host: string, logger: Logger): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: Error) => {
        logger.error({ err }, 'collecting metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
      },
    );
  });
  // Scrapers reconnect often; idle keep-alive sockets must not hold up close().
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'metrics server error'));
  const bound = (server.address() as AddressInfo).port;
  logger.info({ host, port: bound }, 'metrics served at /metrics');
  return {
    port: bound,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
