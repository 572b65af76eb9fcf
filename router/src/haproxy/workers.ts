import pLimit from 'p-limit';
import { parseStat, parseTableCounts, type RuntimeApi, type StatRow } from './runtime-api.js';

/** An HAProxy worker process: the current one, or one a reload replaced, still finishing its connections. */
export interface Worker {
  pid: number;
  current: boolean;
}

/** What one worker counts: its counters start at 0 when it starts (at each reload). */
export interface WorkerStats extends Worker {
  rows: StatRow[];
}

/** The workers in the master's `show proc`: under `# workers` the current one, under `# old workers` the others. */
export function workersIn(showProc: string): Worker[] {
  const workers: Worker[] = [];
  let current = false;
  for (const line of showProc.split('\n')) {
    if (line.startsWith('#')) current = line.trim() === '# workers';
    const m = /^(\d+)\s+worker\s/.exec(line);
    if (m) workers.push({ pid: Number(m[1]), current });
  }
  return workers;
}

/** The master's answer for a worker that has exited (`@!<pid>` names no process any more). */
const GONE = "Can't find the target PID";
/**
 * A whole answer of `show proc`, `show stat`, `show table` or `show sess` ends with an empty line; while
 * the master re-executes itself (each reload) it may answer nothing, or cut an answer short.
 */
const ended = (answer: string) => answer.endsWith('\n\n');
/** How long reads are tried again: they run again soon anyway (ticks, samples, scrapes). */
const READ_RETRY_MS = 2_000;
/** How long the reload command is tried again while the master's socket refuses. */
const RELOAD_RETRY_MS = 10_000;
/** Errors of a master busy re-executing itself (a reload) or of a full accept queue: tried again. */
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EAGAIN']);
/**
 * No socket file: a master just started has not made it yet (the reload command, right after a start,
 * waits for it); for a read it means the master or its folder is gone, and waiting would only delay.
 */
const NOT_YET = 'ENOENT';
/** Connections to the master at once: its socket's accept queue is short (EAGAIN past ~20 here). */
const MASTER_SLOTS = 4;
/** Session ids shut per command line (each about 40 bytes; HAProxy reads a line of up to 16 KB). */
const SHUTDOWNS_PER_LINE = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every HAProxy worker through the master's CLI: the current one, and those a reload replaced, which
 * keep their connections (WebSockets, long responses) after it. While the master re-executes itself
 * (each reload) its socket refuses, resets, answers nothing or cuts an answer short: reads wait for a
 * reload in progress, and a call that meets one anyway is tried again until its answer is whole.
 */
export class HaproxyWorkers {
  private readonly slots = pLimit(MASTER_SLOTS);
  /** A reload in progress (HaproxyProcess sets it): reads start after it. */
  reloading: Promise<void> | undefined;
  /** Set when the router stops: one try each, no waiting on a master that may be gone with its folder. */
  private closed = false;

  constructor(
    private readonly master: RuntimeApi,
    /** The current worker's own socket, for a master without a CLI (adopted from an older router). */
    private readonly admin: RuntimeApi,
    private readonly hasMasterCli: () => boolean,
  ) {}

  /** Every worker's backend rows (`show stat -1 2 -1`): sessions open (`scur`) and in all (`stot`) per app. */
  async backends(): Promise<WorkerStats[]> {
    return this.stat('-1 2 -1', ['pxname', 'svname', 'scur', 'stot']);
  }

  /** Every worker's server rows (`show stat -1 4 -1`): sessions open per pod (`scur`). */
  async servers(): Promise<WorkerStats[]> {
    return this.stat('-1 4 -1', ['pxname', 'svname', 'scur']);
  }

  private async stat(scope: string, columns: readonly string[]): Promise<WorkerStats[]> {
    const answers = await this.ask(`show stat ${scope}`, (a) => a.startsWith('# pxname') && ended(a));
    return answers.map(({ answer, ...w }) => ({ ...w, rows: parseStat(answer, columns) }));
  }

  /** `conn_cur` per key of a stick table, summed over every worker. */
  async tableCounts(table: string): Promise<Map<string, number>> {
    const sum = new Map<string, number>();
    for (const { answer } of await this.ask(`show table ${table}`, (a) => a.startsWith('# table:') && ended(a)))
      for (const [key, n] of parseTableCounts(answer)) sum.set(key, (sum.get(key) ?? 0) + n);
    return sum;
  }

  /**
   * Ends the sessions a worker holds to these servers (`backend/server`). A replaced worker refuses
   * `shutdown sessions server` (its proxies are stopping: "Proxy is disabled"), so there each session
   * is shut by its id; one that ended meanwhile ("No such session") is no failure.
   */
  async shutdownSessions(worker: Worker, servers: readonly string[]): Promise<void> {
    if (servers.length === 0) return;
    if (worker.current) return this.admin.run(servers.map((s) => `shutdown sessions server ${s}`));
    const wanted = new Set(servers);
    // Always at least the CLI's own session: an answer without one is not whole.
    const listing = await this.onMaster(
      `@!${worker.pid} show sess`,
      (a) => (a.includes('0x') && ended(a)) || a.includes(GONE),
    );
    const ids = [...listing.matchAll(/^(0x[0-9a-f]+): .* be=(\S+) srv=(\S+) /gm)]
      .filter((m) => wanted.has(`${m[2]}/${m[3]}`))
      .map((m) => m[1]!);
    for (let i = 0; i < ids.length; i += SHUTDOWNS_PER_LINE) {
      const line = ids.slice(i, i + SHUTDOWNS_PER_LINE).map((id) => `@!${worker.pid} shutdown session ${id}`);
      const answer = await this.onMaster(line.join(';'));
      const failure = answer
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.length > 0 && !l.startsWith('No such session') && !l.startsWith(GONE));
      if (failure) throw new Error(`haproxy master: ${failure} (shutting sessions of worker ${worker.pid})`);
    }
  }

  /** The router is stopping: calls from now on are tried once. */
  close(): void {
    this.closed = true;
  }

  /** `reload` on the master's CLI (HaproxyProcess, which then waits for the new worker). */
  askReload(): Promise<string> {
    return this.onMaster('reload', () => true, { afterReload: false, retryMs: RELOAD_RETRY_MS });
  }

  /** A command's answer from every worker; a worker that exits meanwhile is left out. */
  private async ask(command: string, whole: (answer: string) => boolean): Promise<(Worker & { answer: string })[]> {
    if (!this.hasMasterCli()) {
      await this.reloading;
      const [pid, answer] = await Promise.all([this.admin.workerPid(), this.admin.command(command)]);
      if (pid === undefined || !whole(answer)) throw new Error(`haproxy: no whole answer to "${command}"`);
      return [{ pid, current: true, answer }];
    }
    const proc = await this.onMaster('show proc', (a) => ended(a) && workersIn(a).some((w) => w.current));
    const answers = await Promise.all(
      workersIn(proc).map(async (w) => ({
        ...w,
        answer: await this.onMaster(`@!${w.pid} ${command}`, (a) => whole(a) || a.includes(GONE)),
      })),
    );
    return answers.filter((w) => !w.answer.includes(GONE));
  }

  /**
   * One command on the master's CLI, within MASTER_SLOTS connections at once; tried again (READ_RETRY_MS
   * from when it could start) while the master cannot answer whole: transient errors, an answer `whole`
   * rejects.
   */
  private async onMaster(
    command: string,
    whole: (answer: string) => boolean = () => true,
    { afterReload = true, retryMs = READ_RETRY_MS } = {},
  ) {
    if (afterReload) await this.reloading;
    const deadline = Date.now() + retryMs;
    for (;;) {
      if (afterReload) await this.reloading;
      let failure: Error;
      try {
        const answer = await this.slots(() => this.master.command(command));
        if (whole(answer)) return answer;
        failure = new Error(`haproxy master: no whole answer to "${command.slice(0, 80)}"`);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        if (!TRANSIENT.has(code) && !(code === NOT_YET && !afterReload)) throw e;
        failure = e as Error;
      }
      if (this.closed || Date.now() > deadline) throw failure;
      await sleep(20);
    }
  }
}
