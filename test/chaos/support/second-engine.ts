import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { waitUntil } from './wait.js';

/**
 * A Docker engine of a chaos test's own, which the test may stop and start: the host's engine is
 * shared by every test and session on the machine and must never be restarted. It runs in a network
 * namespace of its own (a second dockerd in the host's namespace removed the host engine's docker0
 * when it stopped), entered with nsenter (`ip netns exec` remounts /sys and hides the cgroups dockerd
 * needs), with its own data root, exec root, pid file, socket, bridge and cgroup parent; a veth pair
 * gives the host an address in it (`address`). Whatever runs against it — a whole platform — runs in
 * that namespace too (`nsenter`), so pod IPs are where the platform looks for them.
 *
 * `close()` removes everything (second-engine-cleanup.sh); a watchdog process runs the same script if
 * the test process dies before it could.
 */
export class SecondEngine {
  readonly dir: string;
  readonly netns: string;
  /** The engine's API socket (a path: reachable from any network namespace). */
  readonly socket: string;
  /** The namespace's address as seen from the host (servers in it bind 0.0.0.0 to be reached there). */
  readonly address: string;
  readonly docker: Docker;
  private readonly cgroupParent: string;
  private daemon: ChildProcess | undefined;
  private readonly watchdog: ChildProcess;
  private closing: Promise<void> | undefined;
  /** dockerd's output, for a failure's message. */
  private output = '';

  private constructor() {
    const id = randomBytes(3).toString('hex');
    this.dir = mkdtempSync(join(tmpdir(), 'sidecar-chaos-engine-'));
    this.netns = `sidecar-ce-${id}`;
    this.cgroupParent = `sidecar-chaos-engine-${id}`;
    this.socket = join(this.dir, 'docker.sock');
    const subnet = `10.232.${1 + (randomBytes(1)[0]! % 250)}`;
    this.address = `${subnet}.2`;
    this.docker = new Docker({ socketPath: this.socket });
    // Armed before anything exists, so nothing can outlive the test process.
    this.watchdog = spawn('bash', [CLEANUP, '--after', String(process.pid), ...this.cleanupArgs()], {
      detached: true,
      stdio: 'ignore',
    });
    this.watchdog.unref();
  }

  /** The namespace, and a veth pair whose host end gets `.1` and whose inside end gets `address`. */
  private makeNetns(): void {
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
    const id = this.netns.slice('sidecar-ce-'.length);
    const subnet = this.address.slice(0, this.address.lastIndexOf('.'));
    const [host, inside] = [`sce${id}h`, `sce${id}n`];
    ip('netns', 'add', this.netns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inside);
    ip('link', 'set', inside, 'netns', this.netns);
    ip('addr', 'add', `${subnet}.1/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('netns', 'exec', this.netns, 'ip', 'addr', 'add', `${this.address}/30`, 'dev', inside);
    ip('netns', 'exec', this.netns, 'ip', 'link', 'set', inside, 'up');
    ip('netns', 'exec', this.netns, 'ip', 'link', 'set', 'lo', 'up');
  }

  /** Whether this machine can run one: root, dockerd and iproute2. */
  static available(): boolean {
    if (process.getuid?.() !== 0) return false;
    try {
      execFileSync('sh', ['-c', 'command -v dockerd && command -v nsenter && ip netns list'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  static async start(opts: { liveRestore: boolean }): Promise<SecondEngine> {
    const engine = new SecondEngine();
    try {
      engine.makeNetns();
      engine.writeConfig(opts.liveRestore);
      await engine.startDaemon();
      return engine;
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  /** `nsenter` into the engine's network namespace: prefix a command with it. */
  get nsenter(): string[] {
    return ['nsenter', `--net=/var/run/netns/${this.netns}`];
  }

  /** Copies images from the host's engine (no registry here: `docker save | docker load`). */
  async loadImages(refs: string[]): Promise<void> {
    const save = spawn('docker', ['save', ...refs], { stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn('docker', ['-H', `unix://${this.socket}`, 'load', '-q'], { stdio: ['pipe', 'ignore', 'pipe'] });
    save.stdout!.pipe(load.stdin!);
    let errors = '';
    for (const p of [save, load]) p.stderr!.on('data', (b: Buffer) => (errors += b.toString()));
    const codes = await Promise.all([save, load].map((p) => new Promise((r) => p.once('close', r))));
    if (codes.some((c) => c !== 0))
      throw new Error(`docker save | docker load failed (${codes.join(', ')}): ${errors}`);
  }

  /** Changes live-restore on the running engine (a setting dockerd reloads on SIGHUP). */
  async setLiveRestore(on: boolean): Promise<void> {
    this.writeConfig(on);
    this.daemon!.kill('SIGHUP');
    await waitUntil(
      `the engine's live-restore ${on ? 'on' : 'off'}`,
      async () =>
        ((await this.docker.info()) as { LiveRestoreEnabled?: boolean }).LiveRestoreEnabled === on || undefined,
      { timeoutMs: 30_000, everyMs: 100 },
    );
  }

  /** Stops dockerd as a service manager does (SIGTERM, then waits for it to exit); returns how long that took. */
  async stopDaemon(): Promise<number> {
    const daemon = this.daemon;
    if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return 0;
    const began = Date.now();
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    daemon.kill('SIGTERM');
    const killer = setTimeout(() => daemon.kill('SIGKILL'), 90_000);
    await exited;
    clearTimeout(killer);
    return Date.now() - began;
  }

  /** Starts dockerd and waits until it answers; returns how long that took. */
  async startDaemon(): Promise<number> {
    const began = Date.now();
    const dockerd = execFileSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).trim();
    const daemon = spawn(
      this.nsenter[0]!,
      [
        ...this.nsenter.slice(1),
        dockerd,
        `--config-file=${join(this.dir, 'daemon.json')}`,
        `--host=unix://${this.socket}`,
        `--data-root=${join(this.dir, 'data')}`,
        `--exec-root=${join(this.dir, 'exec')}`,
        `--pidfile=${join(this.dir, 'dockerd.pid')}`,
        `--cgroup-parent=/${this.cgroupParent}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-6000));
    daemon.stdout!.on('data', keep);
    daemon.stderr!.on('data', keep);
    this.daemon = daemon;
    await waitUntil(
      'the second engine answers',
      async () => {
        if (daemon.exitCode !== null) throw new Error(`dockerd exited ${daemon.exitCode}: ${this.output}`);
        return (await this.docker.ping().then(
          () => true,
          () => undefined,
        )) as true | undefined;
      },
      { timeoutMs: 60_000, everyMs: 100, describe: () => this.output.slice(-2000) },
    );
    return Date.now() - began;
  }

  /**
   * What the engine runs now, for a failure's message: its containers, the NAT rules and the listening
   * sockets of its namespace, and dockerd's last output.
   */
  state(): string {
    const commands = [
      ['docker', '-H', `unix://${this.socket}`, 'ps', '-a', '--format', '{{.Names}} | {{.Status}} | {{.Ports}}'],
      [...this.nsenter, 'iptables', '-t', 'nat', '-S'],
      [...this.nsenter, 'ss', '-ltnp'],
    ];
    const run = ([command, ...args]: string[]) => {
      try {
        return execFileSync(command!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
      } catch (e) {
        return `(failed: ${(e as Error).message})`;
      }
    };
    const outputs = commands.map((c) => `$ ${c.join(' ')}\n${run(c).trimEnd()}`);
    return [...outputs, `dockerd's last output:\n${this.output.slice(-1500)}`].join('\n');
  }

  /** Removes everything the engine made, even after a failure. Safe twice. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const cleanup = spawn('bash', [CLEANUP, ...this.cleanupArgs()], { stdio: 'inherit' });
      cleanup.once('close', () => resolve());
    }).then(() => {
      // Everything is gone: the watchdog (started by this process) has nothing left to do.
      if (this.watchdog.exitCode === null && this.watchdog.signalCode === null) this.watchdog.kill('SIGKILL');
    });
    return this.closing;
  }

  private cleanupArgs(): string[] {
    return [this.dir, this.netns, this.cgroupParent];
  }

  private writeConfig(liveRestore: boolean): void {
    writeFileSync(join(this.dir, 'daemon.json'), JSON.stringify({ 'live-restore': liveRestore }));
  }
}

const CLEANUP = join(import.meta.dirname, 'second-engine-cleanup.sh');

/**
 * The platform images on the host's engine (built if missing, as `npm start` does), with the node base
 * the launcher also looks for (it builds it when absent): the refs to copy into a second engine.
 */
export async function hostPlatformImages(): Promise<string[]> {
  const script = join(import.meta.dirname, '../../../runtime-image/dist/images/build-images.js');
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const images = JSON.parse(out) as Record<string, string>;
  const host = new Docker();
  // node-base is the runtime image's ancestor; of its tags, the one whose image is in that history.
  const ancestors = new Set((await host.getImage(images.runtimeNode!).history()).map((h: { Id: string }) => h.Id));
  const bases = await host.listImages({ filters: { reference: ['sidecar/node-base'] } });
  const base = bases.find((b) => ancestors.has(b.Id))?.RepoTags?.find((t) => t.startsWith('sidecar/node-base:'));
  if (!base) throw new Error(`no sidecar/node-base tag is an ancestor of ${images.runtimeNode}`);
  return [...Object.values(images), base];
}
