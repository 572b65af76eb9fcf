import { get } from 'node:http';
import type Docker from 'dockerode';

/**
 * Starts a container only on an engine that is not stopping.
 *
 * dockerd, told to stop (SIGTERM: a restart, an upgrade), first closes its listening socket, then stops
 * every container (without live-restore), then shuts its containerd down and exits; meanwhile it goes on
 * serving the connections it already has, and Node's default agent keeps the client's connections alive.
 * A runner that saw its sandbox die in that stop started it again over such a connection, and the start
 * could land while the engine shut its containerd down: it failed ("transport is closing"), and the engine,
 * started again, refused every later start of that container ("task … already exists"); the pod never
 * came back (test/chaos/engine-restart.test.ts, in about one run in six). So every start is preceded by a
 * ping over a connection of its own: refused from the moment the engine began to stop, it fails the start
 * as an engine that is away does (no status code), and the caller waits for the engine that comes back.
 * (Every request on a connection of its own instead slowed the runner's tests down under load.)
 */
export async function startContainer(docker: Docker, id: string): Promise<void> {
  await pingNewConnection(docker);
  await docker.getContainer(id).start();
}

/**
 * Resolves once the engine answered a ping over a new connection (never a kept-alive one); rejects
 * without a status code when it takes none. An engine reached over TCP (no socket path: the Kubernetes
 * builder's, which runs no pods) is pinged as usual.
 */
export function pingNewConnection(docker: Docker): Promise<void> {
  // docker-modem keeps the socket path it was given (@types/docker-modem does not declare it).
  const { socketPath } = docker.modem as unknown as { socketPath?: unknown };
  if (typeof socketPath !== 'string') return docker.ping().then(() => undefined);
  return new Promise((resolve, reject) => {
    const req = get({ socketPath, path: '/_ping', agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve()
          : reject(new Error(`the Docker engine answered a ping with ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
  });
}
