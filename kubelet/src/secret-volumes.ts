import { Labels, type Pod, type PodSecrets, type SecretVolumeSource, type Volume } from '@sidecar/core';
import type Docker from 'dockerode';
import { podLabels, podName, volumeName } from './container-options.js';
import { removeContainer } from './pod-sandbox.js';

/**
 * Secret volumes on Docker. A kubelet reads a secret volume's Secret from the API server and writes
 * its keys as files; here the caller hands the Secrets' data over (PodRunnerOptions.secrets) and the
 * files are written into the pod's named volume before any container starts. As on Kubernetes the
 * files belong to root and take the volume's mode (defaultMode, default 0644, or an item's own).
 *
 * The volume is an ordinary local volume, not a tmpfs: Docker mounts a tmpfs volume afresh whenever
 * no container holds it, which would empty it between two restarts of the one container using it.
 * Its data lives under Docker's root-only volume folder and goes with the pod.
 */

/** Kubernetes' default mode of secret files. */
const DEFAULT_MODE = 0o644;
/** Where the short-lived writer container mounts the volume. */
const WRITE_AT = '/secret';
/** The role label of that container (removed with the pod if a crash left it behind). */
export const SECRET_WRITER_ROLE = 'secret-writer';

/** The files of one secret volume: path → content and mode. */
export function secretFiles(
  source: SecretVolumeSource,
  data: Record<string, string> | undefined,
): { path: string; content: string; mode: number }[] {
  if (!data) throw new Error(`secret "${source.secretName}" not found (the target supplied no such Secret)`);
  const mode = source.defaultMode ?? DEFAULT_MODE;
  if (!source.items) return Object.keys(data).map((key) => ({ path: key, content: data[key]!, mode }));
  return source.items.map((item) => {
    const content = data[item.key];
    if (content === undefined) throw new Error(`secret "${source.secretName}" has no key "${item.key}"`);
    return { path: item.path, content, mode: item.mode ?? mode };
  });
}

/**
 * Writes every secret volume of the pod (already created, empty): a container of `image` that is
 * never started mounts the volume read-write, receives the files through the archive API, and is
 * removed. The pod's own containers mount it read-only.
 */
export async function writeSecretVolumes(o: {
  docker: Docker;
  pod: Pod;
  secrets: PodSecrets;
  image: string;
}): Promise<void> {
  const volumes = (o.pod.spec.volumes ?? []).filter((v): v is Volume & { secret: SecretVolumeSource } => !!v.secret);
  await Promise.all(
    volumes.map(async (v) => {
      const archive = ustar(secretFiles(v.secret, o.secrets[v.secret.secretName]));
      const writer = await o.docker.createContainer({
        name: `${volumeName(podName(o.pod), v.name)}_writer`,
        Image: o.image,
        Labels: { ...podLabels(o.pod), [Labels.role]: SECRET_WRITER_ROLE },
        NetworkDisabled: true,
        HostConfig: {
          NetworkMode: 'none',
          Mounts: [{ Type: 'volume', Source: volumeName(podName(o.pod), v.name), Target: WRITE_AT }],
        },
      });
      try {
        await writer.putArchive(archive, { path: WRITE_AT });
      } finally {
        await removeContainer(o.docker, writer.id);
      }
    }),
  );
}

/** A tar of small files owned by root (uid 0, gid 0), with the folders their paths imply. */
export function ustar(files: { path: string; content: string; mode: number }[]): Buffer {
  const blocks: Buffer[] = [];
  const folders = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (folders.has(dir)) continue;
      folders.add(dir);
      blocks.push(header(dir, 0, 0o755, '5'));
    }
    const body = Buffer.from(f.content, 'utf8');
    blocks.push(header(f.path, body.length, f.mode, '0'), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function header(name: string, size: number, mode: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`secret file path "${name}" is longer than 100 bytes`);
  const h = Buffer.alloc(512);
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0') + '\0';
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108); // uid: root
  h.write(octal(0, 8), 116); // gid: root
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136); // mtime
  h.write('        ', 148); // checksum field counts as spaces while summing
  h.write(type, 156);
  h.write('ustar\u000000', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}
