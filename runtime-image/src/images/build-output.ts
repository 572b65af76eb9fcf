/**
 * Parser for the Docker build output stream (`POST /build`). The engine answers
 * 200 and then streams JSON messages; a failed build is only visible as an
 * `error`/`errorDetail` message inside that stream. Messages may arrive split
 * across chunks or several in one chunk, so this scans for complete top-level
 * JSON objects instead of trusting chunk or line boundaries.
 */

export interface BuildMessage {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

export interface BuildResult {
  /** `sha256:…` from the `aux` message, when the engine sent one. */
  imageId: string | undefined;
  /** The human-readable build log (all `stream` text). */
  log: string;
}

export class ImageBuildError extends Error {
  readonly log: string;
  constructor(message: string, options: { log: string; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ImageBuildError';
    this.log = options.log;
  }
}

/** Splits a byte stream into complete JSON object texts, tolerant of any chunking. */
export class JsonObjectSplitter {
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private readonly decoder = new TextDecoder();

  /** Feeds a chunk; returns the object texts completed by it. */
  push(chunk: Uint8Array | string): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    const base = this.buf.length;
    this.buf += text;
    for (let i = base; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"' && this.depth > 0) this.inString = true;
      else if (c === '{') {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (c === '}' && this.depth > 0) {
        this.depth--;
        if (this.depth === 0) out.push(this.buf.slice(this.start, i + 1));
      }
    }
    // Keep only the unfinished object (if any) so the buffer stays small.
    if (this.depth === 0) this.buf = '';
    else {
      this.buf = this.buf.slice(this.start);
      this.start = 0;
    }
    return out;
  }

  /** Text of an object that never completed (a truncated stream), or ''. */
  rest(): string {
    return this.depth > 0 ? this.buf : '';
  }
}

/**
 * Consumes a build output stream to its end. Resolves with the image id and log;
 * rejects with ImageBuildError when the stream carries an error message, ends
 * with an incomplete message, or fails.
 */
export async function readBuildOutput(
  stream: AsyncIterable<Uint8Array | string>,
  onMessage?: (message: BuildMessage) => void,
): Promise<BuildResult> {
  const splitter = new JsonObjectSplitter();
  let log = '';
  let imageId: string | undefined;
  let failure: string | undefined;
  const handle = (text: string) => {
    let msg: BuildMessage;
    try {
      msg = JSON.parse(text) as BuildMessage;
    } catch (cause) {
      throw new ImageBuildError(`unparseable build output: ${text.slice(0, 200)}`, { log, cause });
    }
    if (typeof msg.stream === 'string') log += msg.stream;
    if (msg.aux?.ID) imageId = msg.aux.ID;
    const error = msg.errorDetail?.message ?? msg.error;
    if (error !== undefined && failure === undefined) failure = error;
    onMessage?.(msg);
  };
  try {
    for await (const chunk of stream) for (const text of splitter.push(chunk)) handle(text);
  } catch (cause) {
    if (cause instanceof ImageBuildError) throw cause;
    throw new ImageBuildError(`build output stream failed: ${(cause as Error).message}`, { log, cause });
  }
  if (failure !== undefined) throw new ImageBuildError(`image build failed: ${failure.trim()}`, { log });
  if (splitter.rest()) throw new ImageBuildError('build output ended in the middle of a message', { log });
  return { imageId, log };
}
