import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DATA_PLANE_FILE, recordedMaster, terminate } from '@sidecar/platform-process';
import { HOP_BY_HOP_LUA } from './hop-by-hop.lua.js';
import { RuntimeApi } from './runtime-api.js';
import { HaproxyWorkers } from './workers.js';

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
  /** Every worker, the replaced ones too, through the master's CLI (workers.ts). */
  readonly workers: HaproxyWorkers;
  private masterPid: number | undefined;
  /** Whether the master has a CLI (one started by an older router, adopted, may have none). */
  private masterCli = true;

  constructor(
    readonly files: HaproxyFiles,
    private readonly bin = 'haproxy',
  ) {
    this.api = new RuntimeApi(files.adminSocket);
    this.workers = new HaproxyWorkers(new RuntimeApi(files.masterSocket), this.api, () => this.masterCli);
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
    const reloading = (async () => {
      const before = await this.api.workerPid().catch(() => undefined);
      const master = this.requireMaster();
      if (this.masterCli) await this.workers.askReload();
      else process.kill(master, 'SIGUSR2');
      await this.waitForWorker(before);
    })();
    // Reads of the workers wait for it: the master answers nothing whole while it re-executes.
    this.workers.reloading = reloading.catch(() => undefined);
    try {
      await reloading;
    } finally {
      this.workers.reloading = undefined;
    }
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
