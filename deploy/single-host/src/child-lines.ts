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

  show(child: string, line: string, stream: 'stdout' | 'stderr'): { ready: boolean } {
    const parsed = parseJsonLine(line);
    if (!parsed) {
      if (line.trim() !== '') this.log[stream === 'stderr' ? 'warn' : 'info']({ child }, line);
      return { ready: false };
    }
    process.stdout.write(this.pretty ? this.pretty(parsed) : `${line}\n`);
    return { ready: parsed.ready === true };
  }
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null && 'msg' in v ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
