import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Docker from 'dockerode';

/**
 * The text of a container's log (stdout and stderr interleaved as written), from Docker's
 * multiplexed stream demuxed by dockerode's `modem.demuxStream` (containers run without a TTY).
 */
export async function containerLogText(
  container: Docker.Container,
  opts: { tail?: number; timestamps?: boolean } = {},
): Promise<string> {
  const raw = (await container.logs({
    stdout: true,
    stderr: true,
    follow: false,
    timestamps: opts.timestamps ?? false,
    ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
  })) as Buffer;
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const source = Readable.from([raw]);
  container.modem.demuxStream(source, sink, sink);
  await finished(source);
  return Buffer.concat(chunks).toString('utf8');
}
