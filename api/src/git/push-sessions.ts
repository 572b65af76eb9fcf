import { randomBytes } from 'node:crypto';
import type { Log } from '@sidecar/core';
import type { HeldLock } from '@sidecar/store';

/**
 * One receive-pack request in flight. Its random secret reaches only git's hook (through the
 * environment of the process tree the API spawned), and lets that hook call back exactly once.
 * Closing it (when receive-pack has exited, i.e. after git moved or kept the refs, or when the
 * client went away) aborts whatever the hook started and frees the app's push lock.
 */
export class PushSession {
  readonly secret = randomBytes(32).toString('base64url');
  private readonly aborter = new AbortController();
  private claimed = false;
  private lock: HeldLock | undefined;

  constructor(
    readonly app: string,
    readonly repo: string,
    private readonly onClose: (s: PushSession) => void,
    private readonly log: Log,
  ) {}

  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** True for the first hook call only: the secret is single-use. */
  claim(): boolean {
    if (this.claimed || this.signal.aborted) return false;
    this.claimed = true;
    return true;
  }

  /** Keeps the app's lock until git has finished updating refs, not just until the hook exits. */
  hold(lock: HeldLock): void {
    this.lock = lock;
  }

  async close(): Promise<void> {
    if (this.signal.aborted) return;
    this.aborter.abort(new Error('the push ended'));
    this.onClose(this);
    await this.lock
      ?.release()
      .catch((e: unknown) => this.log.error({ app: this.app, err: e }, 'git: releasing the push lock failed'));
  }
}

export class PushSessions {
  private readonly open = new Map<string, PushSession>();

  constructor(private readonly log: Log) {}

  start(app: string, repo: string): PushSession {
    const s = new PushSession(app, repo, (done) => this.open.delete(done.secret), this.log);
    this.open.set(s.secret, s);
    return s;
  }

  find(secret: string): PushSession | undefined {
    return this.open.get(secret);
  }
}
