import { connect, createServer, type Socket } from 'node:net';

/**
 * Listens on 127.0.0.1:`port` and pipes every connection, byte for byte, to `host`:`port`: the test's
 * clients (which talk to 127.0.0.1) reach a platform that runs in another network namespace.
 */
export async function forwardPort(port: number, host: string): Promise<{ close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, host);
    open.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const s of [client, upstream]) s.on('close', end).on('error', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
