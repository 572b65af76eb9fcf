import net from 'node:net';

/** One row of `show stat`, keyed by column name (pxname, svname, scur, stot, …). */
export type StatRow = Record<string, string>;

/**
 * `show stat`'s CSV; anything else (an error message) is no rows. `only`: the columns kept (a row has
 * about 100; with many apps and workers, objects of all of them cost the router real CPU).
 */
export function parseStat(text: string, only?: readonly string[]): StatRow[] {
  const [header, ...rows] = text.split('\n').filter((l) => l.length > 0);
  if (!header?.startsWith('# ')) return [];
  const columns = header.slice(2).split(',');
  const kept = columns.flatMap((c, i) => (only === undefined || only.includes(c) ? [[c, i] as const] : []));
  return rows.map((r) => {
    const values = r.split(',');
    return Object.fromEntries(kept.map(([c, i]) => [c, values[i] ?? '']));
  });
}

/** `conn_cur` per key in `show table`'s answer. */
export function parseTableCounts(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /key=(\S+) .*conn_cur=(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * HAProxy's runtime API over its Unix socket, one connection per call (non-interactive
 * mode: HAProxy answers the commands, separated by `;`, and closes).
 */
export class RuntimeApi {
  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs = 5000,
  ) {}

  command(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      const chunks: Buffer[] = [];
      socket.setTimeout(this.timeoutMs, () => socket.destroy(new Error(`haproxy runtime API: no answer to "${cmd}"`)));
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.end(`${cmd}\n`);
    });
  }

  /** Runs commands that must each succeed; HAProxy reports failures only as text. */
  async run(commands: readonly string[]): Promise<void> {
    if (commands.length === 0) return;
    const answer = await this.command(commands.join(';'));
    const failure = answer
      .split('\n')
      .find((l) => /^(unknown|no such|require|invalid|can't|cannot|not found|.*\bfailed\b)/i.test(l.trim()));
    if (failure) throw new Error(`haproxy runtime API: ${failure.trim()} (for: ${commands.join('; ')})`);
  }

  /** `show stat` as rows keyed by column name (proxy, server, scur, …). */
  async stats(): Promise<StatRow[]> {
    return parseStat(await this.command('show stat'));
  }

  /** The worker's process id: it changes when a reload has taken effect. */
  async workerPid(): Promise<number | undefined> {
    const m = /^Pid: (\d+)$/m.exec(await this.command('show info'));
    return m ? Number(m[1]) : undefined;
  }
}
