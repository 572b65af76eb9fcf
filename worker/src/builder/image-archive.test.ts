import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { imageArchive, layerDigest, type ImageConfig } from './image-archive.js';

const base: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  container: 'abc',
  container_config: { Cmd: ['build step'] },
  config: { User: '1000:1000', Labels: { a: 'base', b: 'base' } },
  rootfs: { type: 'layers', diff_ids: ['sha256:' + '1'.repeat(64)] },
  history: [{ created_by: 'base layer' }],
};

async function entries(archive: Readable): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const reader = extract();
  const reading = pipeline(archive, reader as unknown as NodeJS.WritableStream);
  const consuming = (async () => {
    for await (const entry of reader) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  await Promise.all([reading, consuming]);
  return out;
}

describe('imageArchive: what docker load is given', () => {
  it("holds only the new layer, the base's config with it added, and a manifest naming all layers", async () => {
    const layer = () => Readable.from([Buffer.from('layer bytes')]);
    const digest = await layerDigest(layer());
    const files = await entries(
      imageArchive({ base, layer, digest, tag: 'repo/app:d1', labels: { b: 'app' }, createdBy: 'the bundle' }),
    );
    const hex = digest.diffId.slice(7);
    expect([...files.keys()].map((n) => n.replace(/^[0-9a-f]{64}\.json$/, '<config>.json'))).toEqual([
      `${hex}/layer.tar`,
      '<config>.json',
      'manifest.json',
    ]);
    expect(files.get(`${hex}/layer.tar`)!.toString()).toBe('layer bytes');
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    const config = JSON.parse(files.get(manifest[0].Config)!.toString());
    expect(manifest).toEqual([
      {
        Config: manifest[0].Config,
        RepoTags: ['repo/app:d1'],
        Layers: [`${'1'.repeat(64)}/layer.tar`, `${hex}/layer.tar`],
      },
    ]);
    expect(config.rootfs.diff_ids).toEqual([base.rootfs.diff_ids[0], digest.diffId]);
    expect(config.config).toEqual({ User: '1000:1000', Labels: { a: 'base', b: 'app' } });
    expect(config.history).toEqual([
      { created_by: 'base layer' },
      { created: config.created, created_by: 'the bundle' },
    ]);
    // How the base was built is not this image's.
    expect(config).not.toHaveProperty('container');
    expect(config).not.toHaveProperty('container_config');
  });

  it('fails, never loads other bytes, when the layer made again differs from the one digested', async () => {
    const digest = await layerDigest(Readable.from([Buffer.from('first')]));
    const archive = imageArchive({
      base,
      layer: () => Readable.from([Buffer.from('other')]),
      digest,
      tag: 'repo/app:d2',
      labels: {},
      createdBy: 'x',
    });
    await expect(entries(archive)).rejects.toThrow(/the layer changed while its image was made/);
  });
});
