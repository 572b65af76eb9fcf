import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DATA_PLANE_FILE, recordedMaster, terminate } from '@sidecar/platform-process';
import { HOP_BY_HOP_LUA } from './hop-by-hop.lua.js';
import { parseStat, parseTableCounts, RuntimeApi, type StatRow } from './runtime-api.js';

const run = promisify(execFile);

export interface HaproxyFiles {
  dir: string;
  config: string;
  hostsMap: string;
  lua: string;
  adminSocket: string;
  /** The master's CLI (`-S`): reloads are asked for there. */
  masterSocket: string;
  pidFile: string;
  log: string;
}

/** Where the data plane keeps its files; Unix socket paths must stay short (108 bytes). */
export function haproxyFiles(dir: string): HaproxyFiles {
  const files = {
    dir,
    config: join(dir, DATA_PLANE_FILE.config),
    hostsMap: join(dir, 'hosts.map'),
    lua: join(dir, 'hop-by-hop.lua'),
    adminSocket: join(dir, 'admin.sock'),
    masterSocket: join(dir, 'master.sock'),
    pidFile: join(dir, DATA_PLANE_FILE.pidFile),
    log: join(dir, 'haproxy.log'),
  };
  if (Buffer.byteLength(files.masterSocket) > 100)
    throw new Error(`router: state directory path too long for a Unix socket: ${dir}`);
  return files;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An HAProxy worker process: the current one, or an old one still finishing its connections after a reload. */
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

/**
 * HAProxy in master-worker mode, owned by the router. It is not tied to the router's life: a router
 * that crashed finds the running master by its pid file and adopts it (traffic keeps flowing while
 * the launcher restarts the router). A reload (asked for on the master's CLI) starts a new worker with
 * the new configuration; the old one finishes its open connections (bounded by `hard-stop-after`).
 *
 * Why not SIGUSR2: HAProxy ignores SIGUSR2 from early in its start-up until the master enters its
 * event loop, after it forked the worker. A new worker can answer before its master got there, so a
 * reload signalled right after a start or a reload was sometimes dropped, and the old configuration
 * went on serving. A command on the master's CLI waits in the socket's queue until that loop serves it.
 */
export class HaproxyProcess {
  readonly api: RuntimeApi;
  private readonly master: RuntimeApi;
  private masterPid: number | undefined;
  /** Whether the master has a CLI (one started by an older router, adopted, may have none). */
  private masterCli = true;

  constructor(
    readonly files: HaproxyFiles,
    private readonly bin = 'haproxy',
  ) {
    this.api = new RuntimeApi(files.adminSocket);
    this.master = new RuntimeApi(files.masterSocket);
  }

  /** The master's process id while this router knows one. */
  get pid(): number | undefined {
    return this.masterPid;
  }

  /** Writes the configuration and map, checked by HAProxy itself before anything runs them. */
  async write(config: string, hostsMap: string): Promise<void> {
    await writeFile(this.files.lua, HOP_BY_HOP_LUA);
    await writeFile(`${this.files.hostsMap}.new`, hostsMap);
    // The check reads the map the new configuration names, so the new map is in place first.
    await rename(`${this.files.hostsMap}.new`, this.files.hostsMap);
    await writeFile(`${this.files.config}.new`, config);
    try {
      await run(this.bin, ['-c', '-q', '-f', `${this.files.config}.new`]);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`router: HAProxy rejected the configuration: ${err.stderr?.trim() || err.message}`);
    }
    await rename(`${this.files.config}.new`, this.files.config);
  }

  /** Adopts a running master of this state directory, or starts one. Then the current file is in force. */
  async start(): Promise<'adopted' | 'started'> {
    const running = this.runningMaster();
    if (running !== undefined) {
      this.masterPid = running.pid;
      this.masterCli = running.cli;
      await this.reload();
      return 'adopted';
    }
    const out = openSync(this.files.log, 'a');
    try {
      const master = `${this.files.masterSocket},mode,600`;
      const child = spawn(this.bin, ['-W', '-db', '-S', master, '-f', this.files.config, '-p', this.files.pidFile], {
        stdio: ['ignore', out, out],
        detached: true,
      });
      child.unref();
      this.masterPid = child.pid;
      this.masterCli = true;
      const exited = new Promise<never>((_, reject) =>
        child.once('exit', (code) =>
          reject(new Error(`router: HAProxy exited with ${code} at start; see ${this.files.log}`)),
        ),
      );
      exited.catch(() => undefined);
      await Promise.race([this.waitForWorker(undefined), exited]);
    } finally {
      closeSync(out);
    }
    return 'started';
  }

  /**
   * Run before each reload (errors are the hook's own): the last look at the current worker's counters,
   * since a worker with no connection left exits as soon as the new one takes over.
   */
  beforeReload: () => Promise<void> = () => Promise.resolve();

  /** Puts the configuration file in force and resolves once the new worker answers. */
  async reload(): Promise<void> {
    await this.beforeReload();
    const before = await this.api.workerPid().catch(() => undefined);
    const master = this.requireMaster();
    if (this.masterCli) await this.askMasterToReload();
    else process.kill(master, 'SIGUSR2');
    await this.waitForWorker(before);
  }

  /** `reload` on the master's CLI. */
  private async askMasterToReload(): Promise<void> {
    await this.onMaster((master) => master.command('reload'));
  }

  /**
   * A call on the master's CLI, retried only while nothing accepts there yet: the master re-executes
   * itself at each reload, and its socket refuses connections meanwhile.
   */
  private async onMaster<T>(call: (master: RuntimeApi) => Promise<T>): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await call(this.master);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'ECONNREFUSED' && code !== 'ENOENT') || Date.now() > deadline) throw e;
        await sleep(20);
      }
    }
  }

  /**
   * A command's answer from every worker: the current one and, through the master's CLI, old ones that
   * still hold connections after a reload (WebSockets, long responses); a worker that exits meanwhile is
   * left out. A master without a CLI (adopted from an older router) shows only its current worker.
   */
  private async askWorkers(command: string): Promise<(Worker & { answer: string })[]> {
    if (!this.masterCli) {
      const [pid, answer] = await Promise.all([this.api.workerPid(), this.api.command(command)]);
      return pid === undefined ? [] : [{ pid, current: true, answer }];
    }
    const workers = workersIn(await this.onMaster((m) => m.command('show proc')));
    return Promise.all(
      workers.map(async (w) => ({ ...w, answer: await this.onMaster((m) => m.command(`@!${w.pid} ${command}`)) })),
    );
  }

  /** `show stat` of every worker (askWorkers). */
  async workerStats(): Promise<WorkerStats[]> {
    const answers = await this.askWorkers('show stat');
    return answers
      .map(({ pid, current, answer }) => ({ pid, current, rows: parseStat(answer) }))
      .filter((w) => w.rows.length > 0);
  }

  /** `conn_cur` per key of a stick table, summed over every worker (askWorkers). */
  async tableCounts(table: string): Promise<Map<string, number>> {
    const sum = new Map<string, number>();
    for (const { answer } of await this.askWorkers(`show table ${table}`))
      for (const [key, n] of parseTableCounts(answer)) sum.set(key, (sum.get(key) ?? 0) + n);
    return sum;
  }

  /**
   * Ends the sessions one worker holds to a server. An old worker refuses `shutdown sessions server`
   * (its proxies are stopping: "Proxy is disabled"), so there each of them is shut by its id.
   */
  async shutdownSessions(worker: Worker, backend: string, server: string): Promise<void> {
    if (worker.current) return this.api.run([`shutdown sessions server ${backend}/${server}`]);
    const sessions = await this.onMaster((m) => m.command(`@!${worker.pid} show sess`));
    for (const m of sessions.matchAll(/^(0x[0-9a-f]+): .* be=(\S+) srv=(\S+) /gm))
      if (m[2] === backend && m[3] === server)
        await this.onMaster((master) => master.run([`@!${worker.pid} shutdown session ${m[1]}`]));
  }

  /** Stops HAProxy at once (its connections end): the platform is stopping. */
  async stop(): Promise<void> {
    const pid = this.masterPid ?? this.runningMaster()?.pid;
    if (pid === undefined) return;
    if (!(await terminate(pid, 2_000))) return;
    this.masterPid = undefined;
  }

  private requireMaster(): number {
    if (this.masterPid === undefined) throw new Error('router: HAProxy is not running');
    return this.masterPid;
  }

  /** The master recorded in the pid file, if it is still an HAProxy running our configuration. */
  private runningMaster(): { pid: number; cli: boolean } | undefined {
    const master = recordedMaster(this.files);
    return master && { pid: master.pid, cli: master.cmdline.includes(this.files.masterSocket) };
  }

  private async waitForWorker(previous: number | undefined): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const pid = await this.api.workerPid().catch(() => undefined);
      if (pid !== undefined && pid !== previous) return;
      await sleep(20);
    }
    throw new Error(`router: HAProxy did not take its configuration within 10 s; see ${this.files.log}`);
  }
}
