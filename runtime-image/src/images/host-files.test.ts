import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireListeningNc } from './host-files.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A stand-in busybox whose `nc --help` prints `help` (to stderr, as busybox does) and exits 1. */
async function fakeBusybox(help: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-busybox-'));
  dirs.push(dir);
  const path = join(dir, 'busybox');
  await writeFile(path, `#!/bin/sh\ncat >&2 <<'HELP'\n${help}\nHELP\nexit 1\n`);
  await chmod(path, 0o755);
  return path;
}

describe('requireListeningNc: the busybox the logic base is made of must let the loader listen', () => {
  it("accepts the host's busybox (Debian's, with nc -ll and -e)", async () => {
    await expect(requireListeningNc('/bin/busybox')).resolves.toBeUndefined();
  });

  it('refuses a busybox whose nc cannot run a program per connection, or has no nc', async () => {
    const noExec = await fakeBusybox('Usage: nc [-l] [-p PORT] IPADDR PORT\n\t-l\tListen mode');
    await expect(requireListeningNc(noExec)).rejects.toThrow(/no nc with a persistent listener/);
    const noNc = await fakeBusybox('nc: applet not found');
    await expect(requireListeningNc(noNc)).rejects.toThrow(/no nc with a persistent listener/);
  });

  it('accepts a busybox whose nc is the one "compatible with nc 1.10" (help: -lk, and -ll works the same)', async () => {
    const compatible = await fakeBusybox(
      'Usage: nc [OPTIONS] HOST PORT\n\t-l\tListen mode\n\t-lk\tWith -e, provides persistent server\n\t-e PROG\tRun PROG after connect (must be last)',
    );
    await expect(requireListeningNc(compatible)).resolves.toBeUndefined();
  });
});
