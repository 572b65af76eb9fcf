import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { type Bystander, expectUnharmed, startBystander } from '../support/bystander.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';
import { eventually } from '../support/pods.js';

/*
 * Disk (issue 14, finding 4), through the public interfaces: a git push that would take the app's
 * repository past its quota is refused and leaves nothing behind; an app that logs without end
 * fills only its own size-limited log volume; a deleted app's images and repository go with it. Both small here (settings), so the test is quick.
 * Meanwhile a bystander app of another tenant keeps serving.
 */
const REPO_QUOTA = 2 * 1024 * 1024;
const LOG_VOLUME = '1Mi';
const run = promisify(execFile);
const docker = new Docker();
let p: RunningPlatform;
let bystander: Bystander;
const scratch = mkdtempSync(join(tmpdir(), 'sidecar-abuse-disk-'));

beforeAll(async () => {
  p = await startPlatform({
    SIDECAR_GIT_REPO_QUOTA_BYTES: String(REPO_QUOTA),
    SIDECAR_APP_LOG_VOLUME_SIZE: LOG_VOLUME,
  });
  bystander = await startBystander(p);
}, 240_000);
afterAll(async () => {
  await bystander?.stop();
  await stopPlatform(p);
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

/** git as a user runs it, never prompting; the exit code and stderr (where `remote:` lines go). */
async function git(cwd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run('git', ['-c', 'user.name=A', '-c', 'user.email=a@example.com', ...args], {
      cwd,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stderr: err.stderr ?? '' };
  }
}

/** The app's repository's objects on the server, in bytes (what the quota counts). */
async function repoBytes(app: string): Promise<number> {
  const { stdout } = await run('git', ['--git-dir', join(p.dataDir, 'git', `${app}.git`), 'count-objects', '-v']);
  const kib = (key: string) => Number(new RegExp(`^${key}: (\\d+)$`, 'm').exec(stdout)?.[1] ?? 0);
  return (kib('size') + kib('size-pack') + kib('size-garbage')) * 1024;
}

describe('a git push past the repository quota', () => {
  it('is refused naming the quota and its setting; nothing is stored, the app keeps serving', async () => {
    const app = 'hoarder';
    const dir = join(scratch, app);
    const url = `${p.api.replace('http://', `http://x:${p.token}@`)}/git/${app}.git`;
    await run('git', ['init', '-q', '-b', 'main', dir]);
    writeFileSync(join(dir, 'index.js'), 'module.exports = (req, res) => res.end("hoarder v1");\n');
    expect((await git(dir, ['add', '-A'])).code).toBe(0);
    expect((await git(dir, ['commit', '-q', '-m', 'v1'])).code).toBe(0);
    const first = await git(dir, ['push', url, 'main']);
    expect(first.code, first.stderr).toBe(0);
    const before = await repoBytes(app);

    // 3 MiB that does not compress: past the 2 MiB quota however git packs it.
    writeFileSync(join(dir, 'blob.bin'), randomBytes(3 * 1024 * 1024));
    await git(dir, ['add', '-A']);
    await git(dir, ['commit', '-q', '-m', 'big']);
    const big = await git(dir, ['push', url, 'main']);
    expect(big.code).not.toBe(0);
    expect(big.stderr).toMatch(/more than its quota of 2\.0 MiB \(SIDECAR_GIT_REPO_QUOTA_BYTES\)/);
    expect(big.stderr).toMatch(/push rejected: nothing was updated/);
    // git dropped the quarantine: the repository is as it was, and v1 still serves.
    expect(await repoBytes(app)).toBe(before);
    expect(await p.get(app)).toEqual({ status: 200, body: 'hoarder v1' });
  });
});

describe('deleting an app', () => {
  it('removes its images and its git repository', async () => {
    const app = 'hoarder';
    const labels = ['sidecar.paas/app=hoarder', `sidecar.paas/platform=${p.platformId}`];
    expect((await docker.listImages({ filters: { label: labels } })).length).toBeGreaterThan(0);
    expect(existsSync(join(p.dataDir, 'git', `${app}.git`))).toBe(true);
    expect((await p.api$(`/api/v1/apps/${app}`, { method: 'DELETE' })).status).toBe(204);
    // The worker removes the images once the app's pods are gone.
    await eventually('the images removed', async () =>
      (await docker.listImages({ filters: { label: labels } })).length === 0 ? true : undefined,
    );
    expect(existsSync(join(p.dataDir, 'git', `${app}.git`))).toBe(false);
  });
});

describe('an app that logs without end', () => {
  it('fills only its own log volume (ENOSPC at the size limit) and keeps serving', async () => {
    const app = 'chatty';
    await createApp(p, app);
    // Writes 64 KiB lines to /var/log/app until a write fails, then serves what happened.
    const server = `
const fs = require('fs');
const line = 'x'.repeat(64 * 1024 - 1) + '\\n';
let written = 0, error = null;
const fd = fs.openSync('/var/log/app/app.log', 'a');
const tick = setInterval(() => {
  try { fs.writeSync(fd, line); written += line.length; } catch (e) { error = e.code; clearInterval(tick); }
}, 1);
require('http').createServer((req, res) => res.end(JSON.stringify({ written, error }))).listen(process.env.PORT);
`;
    const d = await deploy(p, app, await tgzOf({ 'sidecar.json': '{"start":"node server.js"}', 'server.js': server }));
    expect(d.deploy.status, d.log).toBe('succeeded');
    const seen = await eventually('the log volume full', async () => {
      const r = await p.get(app);
      const body = JSON.parse(r.body) as { written: number; error: string | null };
      return body.error ? body : undefined;
    });
    expect(seen.error).toBe('ENOSPC');
    expect(seen.written).toBeLessThanOrEqual(1024 * 1024);
    expect(seen.written).toBeGreaterThan(512 * 1024);
    expect((await p.get(app)).status).toBe(200);
  });
});

describe('while all of that ran', () => {
  it('the bystander app served every request and the API answered every health check', async () => {
    expectUnharmed(await bystander.stop());
  });
});
