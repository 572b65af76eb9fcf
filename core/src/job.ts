/** A one-off run of an app's current release (API.md "Job"). */
export const JobStatus = { pending: 'pending', running: 'running', succeeded: 'succeeded', failed: 'failed' } as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

export interface Job {
  id: string;
  app: string;
  release: number;
  command: string[];
  env: Record<string, string>;
  status: JobStatus;
  exitCode: number | null;
  /** Why a job failed without an exit code of its own (never started, worker lost it, ...). */
  error: string | null;
  /** The tail of the command's output (stdout and stderr), once it ended. */
  output: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** How much of a job's output is kept. */
export const JOB_OUTPUT_LIMIT_BYTES = 64 * 1024;

/** The last `limit` bytes of a text, cut at a line start where possible (a job's kept output). */
export function tailBytes(text: string, limit: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= limit) return text;
  const cut = buf.subarray(buf.length - limit).toString('utf8');
  const nl = cut.indexOf('\n');
  return nl >= 0 ? cut.slice(nl + 1) : cut;
}
