import net from 'node:net';

/** One request as the data plane saw it: HAProxy's log line (render-config.ts LOG_FORMAT), parsed. */
export interface AccessRecord {
  /** When the request was accepted, ms since the epoch. */
  time: number;
  app: string;
  /** The pod that answered; `<NOSRV>` when the router answered itself (limits, no ready pod). */
  pod: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  requestId: string;
  client: string;
  /** HAProxy's termination state (`--` normal; e.g. `sH` a server timeout, `CD` the client went away). */
  term: string;
}

export const NO_POD = '<NOSRV>';

/** Pure: a log line → a record, or undefined for lines that are not an app's request (unknown hosts, junk). */
export function parseAccessLine(line: string): AccessRecord | undefined {
  let r: AccessRecord;
  try {
    r = JSON.parse(line) as AccessRecord;
  } catch {
    return undefined;
  }
  return r.app && typeof r.status === 'number' ? r : undefined;
}

/** A read that returns less than this drained the socket: the next read waits BATCH_MS. */
const FULL_READ = 64 * 1024;
/** How long lines gather in the kernel's socket buffer between reads while the socket keeps up. */
const BATCH_MS = 25;

/**
 * Where HAProxy's log ring sends its lines (TCP on loopback, one JSON object per line). HAProxy
 * reconnects on its own, so a restarted router gets the lines again at its new port. `onLines`
 * gets each read's complete lines as bytes (to print as they are) and the app requests among them.
 *
 * Read in batches: HAProxy sends each line as it is logged, and a read (and a print) per line cost
 * the router more CPU than the line's parsing and metrics, on the cores the apps need. After a read that drained the socket, the next one waits
 * BATCH_MS while the lines gather in the kernel; a full read is followed at once by the next, so a
 * burst is never left behind. HAProxy's ring holds the lines if the socket buffer ever fills.
 */
export function createAccessLogListener(onLines: (bytes: Buffer, records: AccessRecord[]) => void): net.Server {
  return net.createServer((socket) => {
    let rest = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      // Lines end at a newline byte, never inside a UTF-8 sequence: complete lines decode on their own.
      const end = bytes.lastIndexOf(0x0a) + 1;
      rest = Buffer.from(bytes.subarray(end));
      if (end > 0) {
        const complete = bytes.subarray(0, end);
        const records: AccessRecord[] = [];
        for (const line of complete.toString('utf8').split('\n')) {
          const record = line ? parseAccessLine(line) : undefined;
          if (record) records.push(record);
        }
        onLines(complete, records);
      }
      if (chunk.length < FULL_READ && !timer) {
        socket.pause();
        timer = setTimeout(() => {
          timer = undefined;
          socket.resume();
        }, BATCH_MS);
      }
    });
    socket.on('close', () => clearTimeout(timer));
    socket.on('error', () => socket.destroy());
  });
}
