/**
 * Maps running deploys to AbortControllers and aborts them when the API requests a cancel (a user's
 * cancel, or a newer deploy superseding this one). `start` is given the store's cancel subscription.
 */
export class CancelRegistry {
  private readonly running = new Map<string, AbortController>();

  async start(subscribe: (onCancel: (deployId: string) => void) => Promise<void>): Promise<void> {
    await subscribe((deployId) => this.running.get(deployId)?.abort(new Error('cancelled')));
  }

  /**
   * A controller for this deploy, also aborted when any of `signals` aborts (the worker closing, the app
   * lock lost). Listeners are removed on leave(), so long-lived signals do not collect them.
   */
  enter(deployId: string, ...signals: Array<AbortSignal | undefined>): AbortController {
    const c = new AbortController();
    const cleanups: Array<() => void> = [];
    for (const s of signals) {
      if (!s) continue;
      const onAbort = () => c.abort(s.reason);
      if (s.aborted) onAbort();
      s.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => s.removeEventListener('abort', onAbort));
    }
    this.running.set(deployId, c);
    this.cleanups.set(deployId, cleanups);
    return c;
  }

  leave(deployId: string): void {
    this.running.delete(deployId);
    for (const cleanup of this.cleanups.get(deployId) ?? []) cleanup();
    this.cleanups.delete(deployId);
  }

  private readonly cleanups = new Map<string, Array<() => void>>();
}
