import { prettyFactory } from 'pino-pretty';
import type { Logger } from '@sidecar/platform-process';

/**
 * Shows the children's output: they log JSON lines (SIDECAR_LOG_FORMAT=json). On a terminal (or with
 * SIDECAR_LOG_FORMAT=pretty) each becomes a readable line; otherwise it is passed through as it is, one
 * JSON object per line. Lines that are not JSON (redis-server's own, a Node warning) are logged as the
 * child's. A JSON line with `ready: true` marks the child as serving.
 */
export class ChildLines {
  private readonly pretty: ((obj: object) => string) | undefined;

  constructor(
    private readonly log: Logger,
    format: 'json' | 'pretty' | undefined,
  ) {
    const readable = format === 'pretty' || (format === undefined && process.stdout.isTTY === true);
    this.pretty = readable
      ? prettyFactory({
          colorize: !process.env.NO_COLOR && process.stdout.isTTY === true,
          ignore: 'pid,hostname,name',
          messageFormat: '{name}: {msg}',
          translateTime: 'HH:MM:ss.l',
        })
      : undefined;
  }

  /**
   * Shows one read's lines of a child. Passed through, JSON lines are not parsed (the router's access
   * log is one line per request): only a line that may say `ready: true` is, and they go out in one write.
   */
  show(child: string, lines: string[], stream: 'stdout' | 'stderr'): { ready: boolean } {
    let ready = false;
    let out = '';
    const flush = () => {
      if (out !== '') process.stdout.write(out);
      out = '';
    };
    for (const line of lines) {
      const parsed = this.pretty || line.includes('"ready":true') ? parseJsonLine(line) : undefined;
      if (parsed) {
        out += this.pretty ? this.pretty(parsed) : `${line}\n`;
        ready ||= parsed.ready === true;
      } else if (!this.pretty && looksLikeJson(line)) {
        out += `${line}\n`;
      } else if (line.trim() !== '') {
        // Not a log line of ours (redis-server's own, a Node warning): logged as the child's, in order.
        flush();
        this.log[stream === 'stderr' ? 'warn' : 'info']({ child }, line);
      }
    }
    flush();
    return { ready };
  }
}

/** A whole JSON object on one line, as pino writes them (the cheap test; parseJsonLine is the exact one). */
const looksLikeJson = (line: string) => line.startsWith('{') && line.endsWith('}');

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null && 'msg' in v ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
