/**
 * The log shipper platform sidecar (`sidecar/log-shipper`): follows every file
 * under SIDECAR_LOGS_DIR (/var/log/app, the app's log volume, mounted read-only
 * here) and prints each line on its own stdout as one JSON object,
 * `{"file":"app.log","line":"...","ts":"<ISO time it was read>"}`. The node's log
 * agent (the worker's LogCollector, or a cluster's) collects stdout: the pod never
 * talks to the platform. Offsets are saved in SIDECAR_LOGS_STATE_DIR after each
 * batch is written, so a restarted shipper resumes (at-least-once: a batch written
 * just before a kill is shipped again). On SIGTERM, which a native sidecar declared
 * first gets only after every other container exited, it reads every file one last
 * time (a last line without newline included), then exits 0.
 * Node builtins only: the image has no node_modules.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode, LogFollower, type Offsets } from './log-shipper/follower.js';

const env = process.env;
const dir = env.SIDECAR_LOGS_DIR ?? '/var/log/app';
const stateDir = env.SIDECAR_LOGS_STATE_DIR ?? '/var/lib/log-shipper';
const pollMs = Number(env.SIDECAR_LOGS_POLL_MS ?? 250);
const stateFile = join(stateDir, 'offsets.json');

/** The shipper's own messages: stderr, so they never mix with the shipped lines on stdout. */
const say = (msg: string) => process.stderr.write(`log-shipper: ${msg}\n`);

async function loadOffsets(): Promise<Offsets> {
  try {
    return JSON.parse(await readFile(stateFile, 'utf8')) as Offsets;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      say(`ignoring unreadable ${stateFile}: ${(e as Error).message}`);
    return {};
  }
}

let stateWarned = false;
/** Written to a temporary file and renamed: a kill mid-write leaves the previous offsets. */
async function saveOffsets(offsets: Offsets): Promise<void> {
  try {
    await mkdir(stateDir, { recursive: true });
    await writeFile(`${stateFile}.tmp`, JSON.stringify(offsets));
    await rename(`${stateFile}.tmp`, stateFile);
  } catch (e) {
    if (!stateWarned)
      say(`cannot save offsets in ${stateDir} (a restart will ship files again): ${(e as Error).message}`);
    stateWarned = true;
  }
}

const writeOut = (text: string) =>
  new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));

const follower = new LogFollower({ dir, offsets: await loadOffsets(), warn: say });
let saved = '';

/** One scan: print its lines, and only once they are written, save the offsets past them (when they moved). */
async function pass(final: boolean): Promise<boolean> {
  const { lines, more } = await follower.scan({ final });
  if (lines.length > 0) await writeOut(lines.map(encode).join(''));
  const offsets = follower.offsets();
  const json = JSON.stringify(offsets);
  if (json !== saved) {
    await saveOffsets(offsets);
    saved = json;
  }
  return more;
}

let stopping = false;
let wake = () => {};
const stop = () => {
  stopping = true;
  wake();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

say(`following ${dir}, offsets in ${stateFile}`);
while (!stopping) {
  const more = await pass(false);
  if (!more && !stopping)
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, pollMs);
    });
}
// The writers have exited (native sidecar order): ship everything that is left, then exit 0.
while (await pass(true));
process.exit(0);
