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

/**
 * Where HAProxy's log ring sends its lines (TCP on loopback, one JSON object per line). HAProxy
 * reconnects on its own, so a restarted router gets the lines again at its new port. `onLines`
 * gets each chunk's complete lines as text (to print as they are) and the app requests among them.
 */
export function createAccessLogListener(onLines: (text: string, records: AccessRecord[]) => void): net.Server {
  return net.createServer((socket) => {
    let rest = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const text = rest + chunk;
      const end = text.lastIndexOf('\n') + 1;
      rest = text.slice(end);
      if (end === 0) return;
      const complete = text.slice(0, end);
      const records: AccessRecord[] = [];
      for (const line of complete.split('\n')) {
        const record = line ? parseAccessLine(line) : undefined;
        if (record) records.push(record);
      }
      onLines(complete, records);
    });
    socket.on('error', () => socket.destroy());
  });
}
