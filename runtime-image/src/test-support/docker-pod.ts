/** Test helpers for running a pod by hand on real Docker. */
import type Dockerode from 'dockerode';

/** Runs a command in a container and returns its exit code (a startup probe, by hand). */
export async function execExitCode(docker: Dockerode, containerId: string, cmd: string[]): Promise<number> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('error', reject);
    stream.resume();
  });
  const info = await exec.inspect();
  return info.ExitCode ?? -1;
}

/** The container's log (stdout and stderr, demultiplexed enough to read). */
export async function containerLogs(docker: Dockerode, containerId: string): Promise<string> {
  const buf = await docker.getContainer(containerId).logs({ stdout: true, stderr: true, follow: false });
  // Strip the 8-byte multiplexing headers.
  let out = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString();
    i += 8 + size;
  }
  return out;
}

/** Removes whatever of the named resources exists; every step runs even if one fails. */
export async function removeAll(
  docker: Dockerode,
  r: { containers: string[]; volumes: string[]; images: string[] },
): Promise<void> {
  const ignoreMissing = (err: unknown) => {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  };
  const results = await Promise.allSettled(
    r.containers.map((c) => docker.getContainer(c).remove({ force: true, v: false }).catch(ignoreMissing)),
  );
  const after = await Promise.allSettled([
    ...r.volumes.map((v) => docker.getVolume(v).remove().catch(ignoreMissing)),
    ...r.images.map((i) => docker.getImage(i).remove({ force: true }).catch(ignoreMissing)),
  ]);
  const failed = [...results, ...after].find((x) => x.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
