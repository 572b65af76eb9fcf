import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ImageBuildError, JsonObjectSplitter, readBuildOutput } from './build-output.js';

const stream = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));

describe('build output parser', () => {
  it('joins messages split across chunks and splits several in one chunk', async () => {
    const text =
      '{"stream":"Step 1/2 : FROM scratch\\n"}\r\n{"stream":" ---> {braces} \\"quoted\\"\\n"}\r\n{"aux":{"ID":"sha256:abc"}}\r\n';
    const chunks = [text.slice(0, 7), text.slice(7, 50), text.slice(50, 51), text.slice(51)];
    const seen: unknown[] = [];
    const result = await readBuildOutput(stream(...chunks), (m) => seen.push(m));
    expect(result).toEqual({ imageId: 'sha256:abc', log: 'Step 1/2 : FROM scratch\n ---> {braces} "quoted"\n' });
    expect(seen).toHaveLength(3);
  });

  it('handles a multi-byte character split between chunks', () => {
    const bytes = Buffer.from('{"stream":"héllo"}');
    const s = new JsonObjectSplitter();
    expect([...s.push(bytes.subarray(0, 13)), ...s.push(bytes.subarray(13))]).toEqual(['{"stream":"héllo"}']);
  });

  it('fails the build on an error message even though the stream itself succeeded', async () => {
    const out = stream(
      '{"stream":"Step 1/1 : COPY x /\\n"}\n',
      '{"errorDetail":{"message":"COPY failed: file not found"},"error":"COPY failed: file not found"}\n',
    );
    const err = await readBuildOutput(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageBuildError);
    expect((err as ImageBuildError).message).toBe('image build failed: COPY failed: file not found');
    expect((err as ImageBuildError).log).toContain('Step 1/1');
  });

  it('fails on a stream that ends mid-message', async () => {
    await expect(readBuildOutput(stream('{"stream":"Step 1'))).rejects.toThrow(/ended in the middle/);
  });
});
