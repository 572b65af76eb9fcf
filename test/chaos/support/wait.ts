/**
 * Waits until `check` returns a value other than undefined (re-checked every `everyMs`), bounded by
 * `timeoutMs`; the error names what was awaited and the last thing seen. Chaos tests wait for
 * conditions this way, never for a fixed time.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs: number; everyMs?: number; describe?: () => string | Promise<string> },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const seen = opts.describe ? await Promise.resolve(opts.describe()).catch(() => '') : '';
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`${what}: not within ${opts.timeoutMs} ms${seen ? `; last seen: ${seen}` : ''}${why}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}
