import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import { extract, pack } from 'tar-stream';

/**
 * A logic image as `docker load` takes it (the `docker save` layout: manifest.json, the config, one
 * tar per layer). The engine skips every layer whose chain it already holds without opening its file,
 * so the archive names the base's layers but carries only the bundle's: one request, no container.
 * Measured on this machine: ~0.12 s against ~0.26 s for create + put-archive + commit of the same
 * bundle (docs/benchmarks.md).
 */

/** An image's config as the engine keeps it (the JSON whose sha256 is the image's id). */
export interface ImageConfig {
  config?: { Labels?: Record<string, string> | null } & Record<string, unknown>;
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
  [key: string]: unknown;
}

/** Entries this small are kept while reading a saved image; its config is one of them. */
const SMALL_ENTRY = 1024 * 1024;

/**
 * The config of an image the engine holds, read from its `docker save` stream (manifest.json says
 * which entry it is; the layers are skipped). The engine has no other way to hand out the raw config.
 */
export async function savedImageConfig(docker: Docker, image: string, timeoutMs = 60_000): Promise<ImageConfig> {
  const saved = (await docker.getImage(image).get()) as unknown as Readable;
  // The engine's save has no deadline of its own: one that stalls must not hold every later build.
  let late: Error | undefined;
  const timer = setTimeout(
    () => saved.destroy((late = new Error(`saving ${image} took more than ${timeoutMs} ms`))),
    timeoutMs,
  );
  const small = new Map<string, Buffer>();
  const reader = extract();
  const reading = pipeline(saved, reader);
  const consuming = (async () => {
    for await (const entry of reader) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) if ((entry.header.size ?? 0) <= SMALL_ENTRY) chunks.push(chunk as Buffer);
      if (chunks.length > 0 || entry.header.size === 0) small.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  try {
    await Promise.all([reading, consuming]);
  } catch (err) {
    throw late ?? err; // the reader may fail first, with its own words for the stream that ended
  } finally {
    clearTimeout(timer);
  }
  const manifest = JSON.parse(small.get('manifest.json')?.toString() ?? 'null') as [{ Config?: string }] | null;
  const configName = manifest?.[0]?.Config;
  const config = configName === undefined ? undefined : small.get(configName);
  if (config === undefined) throw new Error(`the saved image ${image} has no manifest.json naming its config`);
  return JSON.parse(config.toString()) as ImageConfig;
}

/** A layer's diff id (sha256 of its uncompressed tar) and size, from one pass over it. */
export async function layerDigest(layer: NodeJS.ReadableStream): Promise<{ diffId: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of layer as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}

export interface ImageArchiveInput {
  base: ImageConfig;
  /** The new layer, made again for the archive: it must give the bytes `digest` was taken of. */
  layer: () => NodeJS.ReadableStream;
  digest: { diffId: string; size: number };
  /** repository:tag the engine gives the loaded image. */
  tag: string;
  /** Added to the base's labels (a label of the same name wins). */
  labels: Record<string, string>;
  /** The new layer's line in `docker history`. */
  createdBy: string;
  created?: Date;
}

/** A failure of the archive itself (its layer could not be read, or changed), not of the request carrying it. */
export class ArchiveError extends Error {}

/**
 * The archive `docker load` makes the image of: the base's config with the new layer on top. It fails
 * with an ArchiveError when its own making fails.
 */
export function imageArchive(input: ImageArchiveInput): Readable {
  const created = (input.created ?? new Date()).toISOString();
  // What describes how the base itself was built, or links it to a parent, is not this image's.
  const { container: _c, container_config: _cc, parent: _p, ...base } = input.base;
  const config: ImageConfig = {
    ...base,
    created,
    config: { ...base.config, Labels: { ...(base.config?.Labels ?? {}), ...input.labels } },
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, input.digest.diffId] },
    history: [...(base.history ?? []), { created, created_by: input.createdBy }],
  };
  const configJson = JSON.stringify(config);
  const configName = `${createHash('sha256').update(configJson).digest('hex')}.json`;
  const layerName = (diffId: string) => `${diffId.slice('sha256:'.length)}/layer.tar`;
  const archive = pack();
  void (async () => {
    // The layer first, whole (its header holds its size); the engine reads manifest.json once all has arrived.
    const entry = archive.entry({ name: layerName(input.digest.diffId), size: input.digest.size });
    await pipeline(input.layer(), sameBytes(input.digest.diffId), entry as unknown as NodeJS.WritableStream);
    archive.entry({ name: configName }, configJson);
    const manifest = [{ Config: configName, RepoTags: [input.tag], Layers: config.rootfs.diff_ids.map(layerName) }];
    archive.entry({ name: 'manifest.json' }, JSON.stringify(manifest));
    archive.finalize();
  })().catch((err: unknown) => {
    // Destroyed already: its reader went away (the engine answered or the request failed), which is not ours to report.
    if (!archive.destroyed) archive.destroy(new ArchiveError((err as Error).message, { cause: err }));
  });
  return archive as unknown as Readable;
}

/** Passes a stream through, failing at its end if its bytes are not those of `diffId` (it was made twice). */
function sameBytes(diffId: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const got = `sha256:${hash.digest('hex')}`;
      done(got === diffId ? null : new Error(`the layer changed while its image was made (${got} ≠ ${diffId})`));
    },
  });
}
