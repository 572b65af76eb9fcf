import type { IncomingMessage } from 'node:http';
import type Docker from 'dockerode';

/** The engine's answer to a wait: the exit code of the run that ended. */
export interface WaitAnswer {
  StatusCode: number;
}

/**
 * The connection of a wait ended before the engine answered: the engine stopped or restarted. With
 * live-restore the container may well still run; the caller waits again once the engine is back.
 */
export class EngineConnectionLost extends Error {
  readonly code = 'ENGINE_CONNECTION_LOST';
  constructor(id: string) {
    super(`the connection to the Docker engine ended while waiting for container ${id.slice(0, 12)} to stop`);
    this.name = 'EngineConnectionLost';
  }
}

/**
 * `docker wait --condition not-running` that notices a lost connection. The engine sends the answer's
 * headers at once and its body when the container stops; dockerode (docker-modem 5) collects the body
 * without listening for the connection's end, so its `wait()` never settles if the connection ends in
 * between — an engine restarted with live-restore left every exit watcher waiting forever (seen in the
 * engine-restart chaos test). Asked as a stream, a connection that ends without the body rejects with
 * `EngineConnectionLost` instead. A 404 rejects with the engine's error (statusCode 404), as `wait()` does.
 */
export async function waitNotRunning(docker: Docker, id: string, signal: AbortSignal): Promise<WaitAnswer> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${id}/wait?`,
        method: 'POST',
        options: { condition: 'not-running' },
        abortSignal: signal,
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
      },
      (err: unknown, stream: unknown) => (err ? reject(err as Error) : resolve(stream as IncomingMessage)),
    );
  });
  return new Promise<WaitAnswer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WaitAnswer);
      } catch {
        reject(new EngineConnectionLost(id));
      }
    });
    res.on('error', () => reject(signal.aborted ? signal.reason : new EngineConnectionLost(id)));
    res.on('close', () => {
      if (!res.complete) reject(signal.aborted ? signal.reason : new EngineConnectionLost(id));
    });
  });
}
