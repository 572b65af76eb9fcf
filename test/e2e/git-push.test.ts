import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keys, newTokenSecret, TokenStore } from '@sidecar/store';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';

// `git push` deploys, driven with the real git client against the platform as `npm start` runs it.
// The bundle limit is small (256 KiB) so one platform also shows a push over the limit refused;
// every other push here is far below it (the 50 MB push carries its weight in history only).
const MAX_BUNDLE = 256 * 1024;
const prefix = `gp-${randomUUID().slice(0, 8)}:`;
let p: RunningPlatform;
let redis: Redis;
const scratch = mkdtempSync(join(tmpdir(), 'sidecar-git-push-'));

beforeAll(async () => {
  // The platform's state lives in the suite's Redis under its own prefix, so that the test can
  // make a deployer token: the API has no endpoint for tokens yet (API.md's POST /tokens).
  redis = new Redis(inject('redisUrl'));
  p = await startPlatform({
    SIDECAR_REDIS_URL: inject('redisUrl'),
    SIDECAR_REDIS_PREFIX: prefix,
    SIDECAR_MAX_BUNDLE_BYTES: String(MAX_BUNDLE),
  });
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
  await redis?.quit();
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git as a user would, never prompting; resolves with its exit code and output, never throws. */
function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-c', 'protocol.version=2', '-c', 'user.name=Tess Ter', '-c', 'user.email=tess@example.com', ...args],
      {
        cwd,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          GIT_TERMINAL_PROMPT: '0',
          GIT_ASKPASS: '',
          SSH_ASKPASS: '',
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

async function ok(cwd: string, args: string[]): Promise<string> {
  const r = await git(cwd, args);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout.trim();
}

const remote = (app: string, token = p.token) => `${p.api.replace('http://', `http://x:${token}@`)}/git/${app}.git`;

/** A fresh working tree on branch main. */
async function workTree(name: string): Promise<string> {
  const dir = join(scratch, `${name}-${randomUUID().slice(0, 6)}`);
  mkdirSync(dir);
  await ok(dir, ['init', '-q', '-b', 'main']);
  return dir;
}

async function commit(dir: string, files: Record<string, string | Buffer>, message: string): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  await ok(dir, ['add', '-A']);
  await ok(dir, ['commit', '-q', '-m', message]);
  return ok(dir, ['rev-parse', 'HEAD']);
}

/** A push whose output is watched while it runs: `seen` resolves when a line matches (or the push ended). */
function pushWatching(cwd: string, url: string, pattern: RegExp): { seen: Promise<void>; done: Promise<GitResult> } {
  const child = spawn('git', ['-c', 'protocol.version=2', 'push', url, 'main'], {
    cwd,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
  });
  let stderr = '';
  let stdout = '';
  let markSeen: () => void = () => undefined;
  const seen = new Promise<void>((resolve) => (markSeen = resolve));
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    if (pattern.test(stderr)) markSeen();
  });
  const done = new Promise<GitResult>((resolve) =>
    child.on('close', (code) => {
      markSeen();
      resolve({ code: code ?? 1, stdout, stderr });
    }),
  );
  return { seen, done };
}

/** What the pushing user read: git's `remote:` lines, without git's padding. */
const remoteLines = (r: GitResult) =>
  r.stderr
    .split('\n')
    .filter((l) => l.startsWith('remote:'))
    .map((l) => l.replace(/^remote: ?/, '').trimEnd());

const handler = (text: string) =>
  `const fs = require('fs');\nmodule.exports = (req, res) => res.end('${text} secret-shipped=' + fs.existsSync(__dirname + '/secret.txt'));\n`;

async function deploysOf(app: string): Promise<
  Array<{
    id: string;
    status: string;
    source: string;
    release: number | null;
    commit?: { sha: string; message: string } | null;
  }>
> {
  const res = await p.api$(`/api/v1/apps/${app}/deploys`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Awaited<ReturnType<typeof deploysOf>> }).items;
}

async function tokenFor(apps: string[]): Promise<string> {
  const secret = newTokenSecret();
  await new TokenStore(redis, keys(prefix)).put(secret, {
    name: `ci-${apps.join('-')}`,
    role: 'deployer',
    apps,
    createdAt: new Date().toISOString(),
  });
  return secret;
}

describe('git push deploys', () => {
  let dir: string;
  let v1: string;
  let v2: string;

  it('a first push creates the app, streams the build as remote: lines and ends with the URL', async () => {
    dir = await workTree('hello');
    // Ignored and untracked files must not ship: only the commit does.
    writeFileSync(join(dir, 'secret.txt'), 'not for the server');
    writeFileSync(join(dir, 'untracked.txt'), 'not committed');
    v1 = await commit(
      dir,
      { '.gitignore': 'secret.txt\nuntracked.txt\n', 'index.js': handler('v1') },
      'First version\n\nWith a body.',
    );
    expect((await p.api$('/api/v1/apps/hello')).status).toBe(404);

    const r = await git(dir, ['push', remote('hello'), 'main']);
    expect(r.code, r.stderr).toBe(0);
    const lines = remoteLines(r);
    expect(lines).toContain(`-----> deploying hello from main at ${v1.slice(0, 7)}: First version`);
    expect(
      lines.some((l) => /detected handler entry index\.js/.test(l)),
      r.stderr,
    ).toBe(true);
    expect(lines.at(-1)).toMatch(
      new RegExp(`^-----> hello v1 is live at http://hello\\.localhost:${p.routerPort}/ \\(deploy d_\\w+\\)$`),
    );
    expect(r.stderr).toMatch(/\* \[new branch\]\s+main -> main/);

    expect(await p.get('hello')).toEqual({ status: 200, body: 'v1 secret-shipped=false' });
    expect(await (await p.api$('/api/v1/apps/hello')).json()).toMatchObject({ currentRelease: 1, status: 'running' });
  }, 120_000);

  it('the deploy and the release record the commit SHA and message', async () => {
    const [latest] = await deploysOf('hello');
    expect(latest).toMatchObject({
      status: 'succeeded',
      source: 'git',
      release: 1,
      commit: { sha: v1, message: 'First version\n\nWith a body.' },
    });
    const one = await (await p.api$(`/api/v1/apps/hello/deploys/${latest!.id}`)).json();
    expect(one.commit).toEqual({ sha: v1, message: 'First version\n\nWith a body.' });
    const releases = await (await p.api$('/api/v1/apps/hello/releases')).json();
    expect(releases.items[0]).toMatchObject({ version: 1, current: true, commit: { sha: v1 } });
  });

  it('a second push deploys v2', async () => {
    v2 = await commit(dir, { 'index.js': handler('v2') }, 'Second version');
    const r = await git(dir, ['push', remote('hello'), 'main']);
    expect(r.code, r.stderr).toBe(0);
    expect(remoteLines(r).at(-1)).toMatch(/^-----> hello v2 is live at /);
    expect(r.stderr).toMatch(new RegExp(`${v1.slice(0, 7)}\\.\\.${v2.slice(0, 7)}\\s+main -> main`));
    expect((await p.get('hello')).body).toBe('v2 secret-shipped=false');
    expect((await deploysOf('hello'))[0]).toMatchObject({ release: 2, commit: { sha: v2, message: 'Second version' } });
  }, 120_000);

  it('pushing the same commit again deploys nothing', async () => {
    const before = (await deploysOf('hello')).length;
    const again = await git(dir, ['push', remote('hello'), 'main']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/Everything up-to-date/);
    // The same commit under the other deploy branch reaches the server: it says so and deploys nothing.
    const master = await git(dir, ['push', remote('hello'), 'main:master']);
    expect(master.code, master.stderr).toBe(0);
    expect(remoteLines(master)).toContain(
      `-----> ${v2.slice(0, 7)} is already deployed as hello v2; nothing to deploy`,
    );
    expect((await deploysOf('hello')).length).toBe(before);
    expect((await p.get('hello')).body).toBe('v2 secret-shipped=false');
  }, 60_000);

  it('another branch is stored and not deployed', async () => {
    const before = (await deploysOf('hello')).length;
    await ok(dir, ['checkout', '-q', '-b', 'feature']);
    const feature = await commit(dir, { 'index.js': handler('feature') }, 'Work in progress');
    const r = await git(dir, ['push', remote('hello'), 'feature']);
    expect(r.code, r.stderr).toBe(0);
    expect(remoteLines(r)).toContain('-----> branch feature stored, not deployed (pushes to main or master deploy)');
    expect((await deploysOf('hello')).length).toBe(before);
    expect((await p.get('hello')).body).toBe('v2 secret-shipped=false');
    expect(await ok(dir, ['ls-remote', remote('hello'), 'refs/heads/feature'])).toBe(`${feature}\trefs/heads/feature`);
    await ok(dir, ['checkout', '-q', 'main']);
  }, 60_000);

  it('a force push deploys the rewritten commit', async () => {
    writeFileSync(join(dir, 'index.js'), handler('v2-amended'));
    await ok(dir, ['commit', '-q', '-a', '--amend', '-m', 'Second version, amended']);
    const amended = await ok(dir, ['rev-parse', 'HEAD']);
    const plain = await git(dir, ['push', remote('hello'), 'main']);
    expect(plain.code).not.toBe(0); // not a fast-forward: git itself asks for --force
    const r = await git(dir, ['push', '--force', remote('hello'), 'main']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\+ \w+\.\.\.\w+\s+main -> main \(forced update\)/);
    expect(remoteLines(r).at(-1)).toMatch(/^-----> hello v3 is live at /);
    expect((await p.get('hello')).body).toBe('v2-amended secret-shipped=false');
    expect((await deploysOf('hello'))[0]).toMatchObject({
      release: 3,
      commit: { sha: amended, message: 'Second version, amended' },
    });
    v2 = amended;
  }, 120_000);

  it('clone returns what was pushed', async () => {
    const clone = join(scratch, `clone-${randomUUID().slice(0, 6)}`);
    const r = await git(scratch, ['clone', '-q', remote('hello'), clone]);
    expect(r.code, r.stderr).toBe(0);
    expect(await ok(clone, ['rev-parse', 'HEAD'])).toBe(v2);
    expect(readFileSync(join(clone, 'index.js'), 'utf8')).toBe(handler('v2-amended'));
    expect(await ok(clone, ['log', '--format=%s', 'origin/feature', '-1'])).toBe('Work in progress');
    expect(await ok(clone, ['ls-files'])).toBe('.gitignore\nindex.js');
    // And a fetch into the first tree sees nothing new.
    expect((await git(dir, ['fetch', remote('hello'), 'main'])).code).toBe(0);
  }, 60_000);

  it('deleting the app deletes its repository; an app made again under that name starts with none of the old history', async () => {
    const dir = await workTree('gone');
    const old = await commit(dir, { 'index.js': "module.exports = (q, s) => s.end('old');\n" }, 'Old');
    expect((await git(dir, ['push', remote('gone'), 'main'])).code).toBe(0);
    const repo = join(p.dataDir, 'git', 'gone.git');
    expect(existsSync(repo)).toBe(true);
    expect((await p.api$('/api/v1/apps/gone', { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(repo)).toBe(false);

    const fresh = await workTree('gone-again');
    const sha = await commit(fresh, { 'index.js': "module.exports = (q, s) => s.end('new');\n" }, 'New');
    const r = await git(fresh, ['push', remote('gone'), 'main']);
    expect(r.code, r.stderr).toBe(0);
    expect(await ok(fresh, ['ls-remote', remote('gone')])).not.toContain(old);
    expect(await ok(fresh, ['ls-remote', remote('gone'), 'refs/heads/main'])).toBe(`${sha}\trefs/heads/main`);
    expect((await p.get('gone')).body).toBe('new');
  }, 120_000);

  it('a fetch whose negotiation git sends gzipped (many local commits) works', async () => {
    const clone = join(scratch, `gzip-${randomUUID().slice(0, 6)}`);
    await ok(scratch, ['clone', '-q', remote('hello'), clone]);
    for (let i = 0; i < 60; i++) await ok(clone, ['commit', '-q', '--allow-empty', '-m', `local ${i}`]);
    await ok(dir, ['checkout', '-q', '-b', 'newer']);
    const newer = await commit(dir, { 'NOTES.md': 'newer' }, 'Newer branch');
    expect((await git(dir, ['push', remote('hello'), 'newer'])).code).toBe(0);
    await ok(dir, ['checkout', '-q', 'main']);
    // GIT_TRACE_CURL shows the request headers: the negotiation really went up gzipped.
    const r = await git(clone, ['fetch', 'origin', 'newer'], { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/=> Send header: Content-Encoding: gzip/);
    expect(await ok(clone, ['rev-parse', 'FETCH_HEAD'])).toBe(newer);
  }, 60_000);
});

describe('a push whose deploy fails', () => {
  it('is rejected with the reason, leaves v1 serving and the branch unmoved', async () => {
    const dir = await workTree('broken');
    const v1 = await commit(dir, { 'index.js': "module.exports = (req, res) => res.end('broken-app v1');\n" }, 'Works');
    expect((await git(dir, ['push', remote('broken'), 'main'])).code).toBe(0);
    const bad = await commit(
      dir,
      { 'index.js': "module.exports = (req, res) => { res.end('v2' ;\n" },
      'Oops, a syntax error',
    );

    const r = await git(dir, ['push', remote('broken'), 'main']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/! \[remote rejected\] main -> main \(pre-receive hook declined\)/);
    const lines = remoteLines(r);
    expect(
      lines.some((l) => /^ ! {5}deploy d_\w+ failed: /.test(l)),
      r.stderr,
    ).toBe(true);
    expect(lines).toContain(' !     main was not updated; broken still serves v1');
    expect(await p.get('broken')).toEqual({ status: 200, body: 'broken-app v1' });
    expect(await ok(dir, ['ls-remote', remote('broken'), 'refs/heads/main'])).toBe(`${v1}\trefs/heads/main`);
    expect((await deploysOf('broken'))[0]).toMatchObject({ status: 'failed', source: 'git', commit: { sha: bad } });
  }, 180_000);

  it('over the bundle limit is refused naming the limit, and nothing moves', async () => {
    const dir = await workTree('toobig');
    await commit(dir, { 'index.js': "module.exports = (q, s) => s.end('small');\n" }, 'Small');
    expect((await git(dir, ['push', remote('toobig'), 'main'])).code).toBe(0);
    const before = await ok(dir, ['rev-parse', 'HEAD']);
    await commit(dir, { 'data.bin': randomBytes(MAX_BUNDLE * 2) }, 'Too much data');
    const r = await git(dir, ['push', remote('toobig'), 'main']);
    expect(r.code).not.toBe(0);
    expect(remoteLines(r).join('\n')).toMatch(new RegExp(`larger than the bundle limit of ${MAX_BUNDLE} bytes`));
    expect(await ok(dir, ['ls-remote', remote('toobig'), 'refs/heads/main'])).toBe(`${before}\trefs/heads/main`);
    expect((await p.get('toobig')).body).toBe('small');
  }, 120_000);

  it('with a malformed object (a tree entry named .git) is refused by the object check, and nothing moves', async () => {
    const dir = await workTree('fsck');
    await commit(dir, { 'index.js': "module.exports = (q, s) => s.end('sound');\n" }, 'Sound');
    expect((await git(dir, ['push', remote('fsck'), 'main'])).code).toBe(0);
    const before = await ok(dir, ['rev-parse', 'HEAD']);
    // git itself never writes such a tree; a hand-made one could plant a repository inside a checkout.
    const blob = await ok(dir, ['hash-object', '-w', 'index.js']);
    const sub = await ok(dir, ['rev-parse', 'HEAD^{tree}']);
    const tree = await new Promise<string>((resolve, reject) => {
      const child = spawn('git', ['mktree'], { cwd: dir });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`git mktree exited ${code}`))));
      child.stdin.end(`100644 blob ${blob}\tindex.js\n040000 tree ${sub}\t.git\n`);
    });
    const bad = await ok(dir, ['commit-tree', tree, '-p', before, '-m', 'Planted .git']);
    const r = await git(dir, ['push', remote('fsck'), `${bad}:refs/heads/main`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/hasDotgit|fsck/i);
    expect(await ok(dir, ['ls-remote', remote('fsck'), 'refs/heads/main'])).toBe(`${before}\trefs/heads/main`);
    expect((await p.get('fsck')).body).toBe('sound');
  }, 120_000);

  it('with a zero-padded file mode (as old git versions wrote trees) is accepted and deploys', async () => {
    const dir = await workTree('legacy');
    await commit(dir, { 'index.js': "module.exports = (q, s) => s.end('legacy');\n", 'lib/x.txt': 'x\n' }, 'Legacy');
    const blob = await ok(dir, ['rev-parse', 'HEAD:index.js']);
    const sub = await ok(dir, ['rev-parse', 'HEAD:lib']);
    // A tree written by hand with mode `040000` (today's git writes `40000`): fsck's zeroPaddedFilemode.
    const raw = Buffer.concat([
      Buffer.from('100644 index.js\0'),
      Buffer.from(blob, 'hex'),
      Buffer.from('040000 lib\0'),
      Buffer.from(sub, 'hex'),
    ]);
    const tree = await new Promise<string>((resolve, reject) => {
      const child = spawn('git', ['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], { cwd: dir });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.on('exit', (code) =>
        code === 0 ? resolve(out.trim()) : reject(new Error(`git hash-object exited ${code}`)),
      );
      child.stdin.end(raw);
    });
    expect((await git(dir, ['fsck', '--strict'])).stdout + (await git(dir, ['fsck', '--strict'])).stderr).toMatch(
      /zeroPaddedFilemode/,
    );
    const legacy = await ok(dir, ['commit-tree', tree, '-m', 'Legacy tree']);
    const r = await git(dir, ['push', remote('legacy'), `${legacy}:refs/heads/main`]);
    expect(r.code, r.stderr).toBe(0);
    expect((await p.get('legacy')).body).toBe('legacy');
  }, 120_000);
});

describe('who may push and fetch', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await workTree('auth');
    await commit(dir, { 'index.js': "module.exports = (q, s) => s.end('guarded');\n" }, 'Guarded');
  });

  it('without credentials git is asked for them (401 with WWW-Authenticate), for fetch as for push', async () => {
    const res = await fetch(`${p.api}/git/hello.git/info/refs?service=git-upload-pack`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="sidecar"');
    const bare = `${p.api}/git/hello.git`;
    for (const args of [
      ['push', bare, 'main'],
      ['ls-remote', bare],
    ]) {
      const r = await git(dir, args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/could not read Username .*terminal prompts disabled/);
    }
  });

  it('a wrong token is refused', async () => {
    const r = await git(dir, ['push', remote('hello', 'sct_not-a-token'), 'main']);
    expect(r.code).not.toBe(0);
    expect(remoteLines(r)).toContain('invalid token');
    expect(r.stderr).toMatch(/Authentication failed/);
  });

  it("another app's token may neither push nor clone, nor create an app it may not touch", async () => {
    const theirs = await tokenFor(['theirs']);
    const push = await git(dir, ['push', remote('hello', theirs), 'main']);
    expect(push.code).not.toBe(0);
    expect(remoteLines(push)).toContain('this token may not access app "hello"');
    const clone = await git(scratch, ['clone', remote('hello', theirs), join(scratch, 'no-clone')]);
    expect(clone.code).not.toBe(0);
    expect(remoteLines(clone)).toContain('this token may not access app "hello"');
    const create = await git(dir, ['push', remote('stranger', theirs), 'main']);
    expect(create.code).not.toBe(0);
    expect(remoteLines(create)).toContain('this token may not access app "stranger"');
    expect((await p.api$('/api/v1/apps/stranger')).status).toBe(404);
  });

  it('a deployer token creates and deploys its own app by pushing', async () => {
    const mine = await tokenFor(['mine']);
    const r = await git(dir, ['push', remote('mine', mine), 'main']);
    expect(r.code, r.stderr).toBe(0);
    expect(remoteLines(r).at(-1)).toMatch(/^-----> mine v1 is live at /);
    expect((await p.get('mine')).body).toBe('guarded');
  }, 120_000);

  it('an invalid app name is refused naming the rule; fetching an app that does not exist is "not found"', async () => {
    const bad = await git(dir, ['ls-remote', remote('Not_An_App')]);
    expect(bad.code).not.toBe(0);
    expect(remoteLines(bad).join('\n')).toMatch(/invalid app name "Not_An_App": use 1-30 lowercase letters/);
    const missing = await git(dir, ['ls-remote', remote('nothing-here')]);
    expect(missing.code).not.toBe(0);
    expect(remoteLines(missing)).toContain('app "nothing-here" does not exist; a push creates it');
  });
});

describe('git push at scale, at the same time, on another branch', () => {
  it('a 50 MB repository with history pushes and deploys its last commit', async () => {
    const dir = await workTree('big');
    const blobs = Object.fromEntries(
      Array.from({ length: 5 }, (_, i) => [`assets/blob-${i}.bin`, randomBytes(10 * 1024 * 1024)]),
    );
    await commit(dir, blobs, 'Fifty megabytes of assets');
    await ok(dir, ['rm', '-q', '-r', 'assets']);
    const head = await commit(
      dir,
      { 'index.js': "module.exports = (q, s) => s.end('big history');\n" },
      'Assets moved out',
    );
    const r = await git(dir, ['push', remote('big'), 'main']);
    expect(r.code, r.stderr).toBe(0);
    expect(remoteLines(r).at(-1)).toMatch(/^-----> big v1 is live at /);
    expect((await p.get('big')).body).toBe('big history');
    expect(await ok(dir, ['ls-remote', remote('big'), 'refs/heads/main'])).toBe(`${head}\trefs/heads/main`);
  }, 240_000);

  it('a push while another one deploys waits for it, then is refused because the branch moved; the repository stays sound', async () => {
    const base = await workTree('race');
    await commit(base, { 'index.js': "module.exports = (q, s) => s.end('race base');\n" }, 'Base');
    expect((await git(base, ['push', remote('race'), 'main'])).code).toBe(0);
    const [a, b] = await Promise.all(
      ['a', 'b'].map(async (who) => {
        const clone = join(scratch, `race-${who}-${randomUUID().slice(0, 6)}`);
        await ok(scratch, ['clone', '-q', remote('race'), clone]);
        const sha = await commit(
          clone,
          { 'index.js': `module.exports = (q, s) => s.end('race ${who}');\n` },
          `From ${who}`,
        );
        return { who, clone, sha };
      }),
    );
    // B starts once A's deploy is under way (A holds the app's push lock, main not yet moved).
    const first = pushWatching(a!.clone, remote('race'), /deploying race from main/);
    await first.seen;
    const second = await git(b!.clone, ['push', remote('race'), 'main']);
    const firstResult = await first.done;
    expect(firstResult.code, firstResult.stderr).toBe(0);
    expect(second.code).not.toBe(0);
    expect(remoteLines(second)).toContain(
      '-----> another push to race is deploying; waiting up to 60 s for it to finish',
    );
    expect(remoteLines(second).join('\n')).toMatch(
      /main moved while this push waited \(it is at \w{7} now\): fetch and push again/,
    );
    expect((await p.get('race')).body).toBe('race a');
    const check = join(scratch, `race-check-${randomUUID().slice(0, 6)}`);
    await ok(scratch, ['clone', '-q', remote('race'), check]);
    expect(await ok(check, ['rev-parse', 'HEAD'])).toBe(a!.sha);
    expect((await git(check, ['fsck', '--full', '--strict'])).code).toBe(0);
  }, 240_000);

  it('the deploy branch is configurable per app', async () => {
    const dir = await workTree('custom');
    await commit(dir, { 'index.js': "module.exports = (q, s) => s.end('custom branch');\n" }, 'Custom');
    // Create the app first, so its git settings can be changed before the first push.
    const created = await p.api$('/api/v1/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'custom' }),
    });
    expect(created.status).toBe(201);
    const patch = await p.api$('/api/v1/apps/custom/git', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deployBranch: 'production' }),
    });
    expect(patch.status).toBe(200);
    expect(await patch.json()).toMatchObject({ url: `${p.api}/git/custom.git`, deployBranches: ['production'] });
    const main = await git(dir, ['push', remote('custom'), 'main']);
    expect(main.code, main.stderr).toBe(0);
    expect(remoteLines(main)).toContain('-----> branch main stored, not deployed (pushes to production deploy)');
    const prod = await git(dir, ['push', remote('custom'), 'main:production']);
    expect(prod.code, prod.stderr).toBe(0);
    expect(remoteLines(prod).at(-1)).toMatch(/^-----> custom v1 is live at /);
    expect((await p.get('custom')).body).toBe('custom branch');
  }, 120_000);
});
