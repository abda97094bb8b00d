import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Stops forwarding what clients send, keeping connections open: the service seems to hang. */
  freeze(): void;
  close(): Promise<void>;
}

/**
 * Forwards 127.0.0.1:`port` to 127.0.0.1:`targetPort`. Starting one late (or closing it) makes a
 * real service look down and then up to a process under test, without touching the service that
 * other tests share.
 */
export async function startTcpProxy(port: number, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk) => {
      if (!frozen) upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    freeze: () => {
      frozen = true;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
