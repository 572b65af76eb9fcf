import type { Redis } from 'ioredis';

/**
 * Maps running deploys to AbortControllers and aborts them when the API
 * publishes a cancel (a user's cancel, or a newer deploy superseding this one).
 */
export class CancelRegistry {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly subscriber: Redis,
    private readonly channel: string,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (ch: string, deployId: string) => {
      if (ch === this.channel) this.running.get(deployId)?.abort(new Error('cancelled'));
    });
    await this.subscriber.subscribe(this.channel);
  }

  /** A controller for this deploy, also aborted when the job's own signal aborts (worker closing). */
  enter(deployId: string, jobSignal?: AbortSignal): AbortController {
    const c = new AbortController();
    jobSignal?.addEventListener('abort', () => c.abort(jobSignal.reason), { once: true });
    this.running.set(deployId, c);
    return c;
  }

  leave(deployId: string): void {
    this.running.delete(deployId);
  }
}
