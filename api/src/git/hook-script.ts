import { randomUUID } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hooksDir } from './git-env.js';
import type { GitSettings } from './git-settings.js';

/** The hook's last line to the API's answer carries its exit code; the hook prints every other line. */
export const EXIT_MARKER = '\u0000sidecar-exit ';

/**
 * git's pre-receive hook, in CommonJS with no dependencies: it hands the pushed refs (stdin) and
 * git's quarantine directory to the API that spawned this push (URL and single-use secret in its
 * environment), prints what the API answers (git shows it as `remote:` lines) and exits with the
 * code the API decided: non-zero rejects every ref of the push.
 */
const HOOK_JS = `'use strict';
// Installed by the Sidecar API (api/src/git/hook-script.ts); rewritten at every API start.
const http = require('node:http');
const url = process.env.SIDECAR_GIT_HOOK_URL;
const secret = process.env.SIDECAR_GIT_HOOK_SECRET;
if (!url || !secret) {
  console.log('this repository takes pushes only through the Sidecar API');
  process.exit(1);
}
const fail = (why) => { console.log('!     ' + why); process.exit(1); };
// Anything short of the API's explicit verdict (a dropped connection included) rejects the push.
process.exitCode = 1;
let refs = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { refs += c; });
process.stdin.on('end', () => {
  const body = JSON.stringify({ refs, quarantine: process.env.GIT_QUARANTINE_PATH || null });
  const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sidecar-push-secret': secret } }, (res) => {
    let code = 1;
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\\n')) !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith(${JSON.stringify(EXIT_MARKER)})) {
          const n = Number(line.slice(${EXIT_MARKER.length}));
          code = Number.isInteger(n) ? n : 1;
        }
        else process.stdout.write(line + '\\n');
      }
    });
    res.on('error', (e) => fail('lost the connection to the platform: ' + e.message));
    res.on('end', () => {
      if (buf) process.stdout.write(buf + '\\n');
      process.exitCode = code;
    });
  });
  req.on('error', (e) => fail('could not reach the platform: ' + e.message));
  req.end(body);
});
`;

/** A name git will run; a shell line so the script keeps its .cjs name (CommonJS whatever package.json is nearby). */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Writes the hooks every repository uses (via core.hooksPath), replacing any older version atomically. */
export async function installHooks(s: GitSettings): Promise<void> {
  const dir = hooksDir(s);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const script = join(dir, 'pre-receive.cjs');
  await replace(script, HOOK_JS, 0o644);
  await replace(join(dir, 'pre-receive'), `#!/bin/sh\nexec ${shellQuote(s.nodePath)} ${shellQuote(script)}\n`, 0o755);
}

async function replace(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, content, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}
