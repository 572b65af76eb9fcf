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
/** `app` of a request whose host names no app (HAProxy prints an unset variable as `-`; no app is named so). */
export const NO_APP = '-';

/**
 * A copy of a string cut from a read that keeps nothing else alive: V8 keeps the whole string a slice was cut
 * from, so an app's name kept as a map key would keep the 64 KiB read it came from for the life of the process.
 */
export const detached = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** What the metrics count of a request: read from its line without parsing the rest of it. */
export interface AccessSummary {
  time: number;
  app: string;
  status: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
}

/** A request's summary and its line as HAProxy wrote it (parsed whole only where it is shown: parseAccessLine). */
export interface AccessLine extends AccessSummary {
  line: string;
}

/** Pure: a log line → a record, or undefined for lines that are not an app's request (unknown hosts, junk). */
export function parseAccessLine(line: string): AccessRecord | undefined {
  let r: AccessRecord;
  try {
    r = JSON.parse(line) as AccessRecord;
  } catch {
    return undefined;
  }
  return r.app && r.app !== NO_APP && typeof r.status === 'number' ? r : undefined;
}

/**
 * Pure: the summary of a line, or undefined for lines that are not an app's request. Reads the few
 * fields the metrics need by their keys instead of parsing the line: the router gets a line for every
 * request of every app, and JSON.parse with the objects it makes was one of the largest items of its CPU
 * time (docs/router.md). A key cannot be matched inside a string value: there every quote is escaped, so
 * `"status":` (a quote right after `status`) never occurs in a client's path or request id. A line
 * not in HAProxy's format (a key missing, keys in another order, a number that is not an integer)
 * is parsed whole instead.
 */
export function scanAccessLine(line: string): AccessLine | undefined {
  // Each key is looked for after the one before, in LOG_FORMAT's order: one pass over the line.
  const at = { i: 0 };
  const time = integerAfter(line, '"time":', at);
  const app = stringAfter(line, '"app":"', at);
  const status = integerAfter(line, '"status":', at);
  const durationMs = integerAfter(line, '"durationMs":', at);
  const bytesIn = integerAfter(line, '"bytesIn":', at);
  const bytesOut = integerAfter(line, '"bytesOut":', at);
  if (app === undefined || Number.isNaN(time + status + durationMs + bytesIn + bytesOut)) {
    const r = parseAccessLine(line);
    return (
      r && {
        time: r.time,
        app: r.app,
        status: r.status,
        durationMs: r.durationMs,
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
        line,
      }
    );
  }
  return app && app !== NO_APP ? { time, app, status, durationMs, bytesIn, bytesOut, line } : undefined;
}

/** The integer right after `key` (found at or after `at.i`, which moves past it); NaN when there is none. */
function integerAfter(line: string, key: string, at: { i: number }): number {
  const found = line.indexOf(key, at.i);
  if (found < 0) return NaN;
  let i = found + key.length;
  const negative = line.charCodeAt(i) === 0x2d;
  if (negative) i++;
  const first = i;
  let value = 0;
  for (let digit = line.charCodeAt(i) - 0x30; digit >= 0 && digit <= 9; digit = line.charCodeAt(++i) - 0x30)
    value = value * 10 + digit;
  // A number of HAProxy's ends at the next key or the line's end; anything else (a fraction, a string) is not one.
  const next = line.charCodeAt(i);
  if (i === first || (next !== 0x2c && next !== 0x7d)) return NaN;
  at.i = i;
  return negative ? -value : value;
}

/** The string right after `key` (which ends with its opening quote) when it holds no escape; undefined otherwise. */
function stringAfter(line: string, key: string, at: { i: number }): string | undefined {
  const found = line.indexOf(key, at.i);
  if (found < 0) return undefined;
  const start = found + key.length;
  const end = line.indexOf('"', start);
  if (end < 0) return undefined;
  const value = line.slice(start, end);
  if (value.includes('\\')) return undefined;
  at.i = end;
  return value;
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
export function createAccessLogListener(onLines: (bytes: Buffer, requests: AccessLine[]) => void): net.Server {
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
        const requests: AccessLine[] = [];
        for (const line of complete.toString('utf8').split('\n')) {
          const request = line ? scanAccessLine(line) : undefined;
          if (request) requests.push(request);
        }
        onLines(complete, requests);
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
