/** Runs `tick` now and then every `ms` after the previous one finished, until the view is left. */
export function poll(tick: () => Promise<void>, ms: number, signal: AbortSignal): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async () => {
    if (signal.aborted) return;
    try {
      await tick();
    } finally {
      if (!signal.aborted) timer = setTimeout(() => void run(), ms);
    }
  };
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  void run();
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
