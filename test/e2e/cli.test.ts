import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, SIDECAR_BIN, sidecar } from '../support/cli.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';

const git = promisify(execFile);

/**
 * The `sidecar` CLI against a real platform: the built command in child processes, logged in through
 * its own config file, deploying folders it packs itself.
 */
let p: RunningPlatform;
let home: string;
let work: string;
const env = () => ({ XDG_CONFIG_HOME: join(home, 'config'), NO_COLOR: '1' });
const run = (args: string[], opts: { cwd?: string; input?: string } = {}): Promise<CliResult> =>
  sidecar(args, { cwd: opts.cwd ?? work, env: env(), ...(opts.input !== undefined ? { input: opts.input } : {}) });
const ok = async (args: string[], opts: { cwd?: string; input?: string } = {}): Promise<CliResult> => {
  const r = await run(args, opts);
  expect(r.code, `sidecar ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
};

/** An app folder: an index.js answering which version it is and every file it was deployed with. */
async function appFolder(name: string, version: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  const files: Record<string, string> = {
    'index.js': `const fs = require('node:fs'); const path = require('node:path');
const list = (d, p = '') => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? list(path.join(d, e.name), p + e.name + '/') : [p + e.name]);
module.exports = (req, res) => {
  console.log(req.method + ' ' + req.url);
  res.end(JSON.stringify({ version: '${version}', files: list(__dirname) }));
};`,
    ...extra,
  };
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

const served = async (app: string) => {
  const r = await p.get(app);
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as { version: string; files: string[] };
};

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sidecar-cli-home-'));
  work = join(home, 'work');
  await mkdir(work);
  p = await startPlatform();
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
  await rm(home, { recursive: true, force: true });
}, 120_000);

describe.sequential('sidecar, the CLI', () => {
  it('logs in with a token from stdin, checked against the API; the file is 0600 in a 0700 folder', async () => {
    const bad = await run(['login', '--api', p.api, '--token-stdin'], { input: 'sct_not-a-token\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^sidecar: invalid token \(unauthorized\)$/);

    const r = await ok(['login', '--api', p.api, '--token-stdin', '--context', 'local'], { input: `${p.token}\n` });
    expect(r.stdout).toMatch(/Logged in to .* as admin \(admin\); context "local"/);
    const file = join(home, 'config', 'sidecar', 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(file))).mode & 0o777).toBe(0o700);
    const me = JSON.parse((await ok(['whoami', '--json'])).stdout);
    expect(me).toMatchObject({ name: 'admin', role: 'admin', api: p.api, context: 'local' });
  });

  it('deploys a clean folder in one command, leaving out ignored files, .git and node_modules', async () => {
    const dir = await appFolder('web', 'one', {
      '.gitignore': 'secret.txt\n*.log\n',
      '.sidecarignore': 'fixtures/\n',
      'secret.txt': 'do not ship',
      'debug.log': 'noise',
      'fixtures/big.txt': 'test data',
      'sub/.gitignore': 'local.txt\n',
      'sub/local.txt': 'mine',
      'sub/kept.txt': 'shipped',
      'node_modules/left-pad/index.js': 'module.exports = 1;',
    });
    await git('git', ['init', '-q', dir]);
    const r = await ok(['deploy', '-a', 'cli-web'], { cwd: dir });
    expect(r.stderr).toMatch(/Created app cli-web/);
    expect(r.stdout).toMatch(/cli-web v1 is serving at http:\/\/cli-web\.localhost/);
    expect(r.stdout).toMatch(/rolling out v1/); // the deploy log, streamed
    const { version, files } = await served('cli-web');
    expect(version).toBe('one');
    // `.sidecar/` is the build's own record, added by the platform.
    const shipped = files.filter((f) => !f.startsWith('.sidecar/')).sort();
    expect(shipped).toEqual(['.gitignore', '.sidecarignore', 'index.js', 'sub/.gitignore', 'sub/kept.txt']);
    expect(JSON.parse(await readFile(join(dir, '.sidecar.json'), 'utf8'))).toEqual({ app: 'cli-web' });
  });

  it('answers --json on the read commands with one parsable document', async () => {
    const apps = JSON.parse((await ok(['apps', '--json'])).stdout);
    expect(apps.items).toEqual([
      expect.objectContaining({
        name: 'cli-web',
        status: 'running',
        currentRelease: 1,
        lastDeploy: expect.objectContaining({ status: 'succeeded' }),
      }),
    ]);
    const releases = JSON.parse((await ok(['releases', '--json', '-a', 'cli-web'])).stdout);
    expect(releases.items).toEqual([expect.objectContaining({ version: 1, current: true })]);
    const pods = JSON.parse((await ok(['pods', '--json'], { cwd: join(work, 'web') })).stdout);
    expect(pods.items[0].containerStatuses.map((c: { name: string }) => c.name)).toContain('runtime');
    const logs = JSON.parse((await ok(['logs', '--json', '-a', 'cli-web', '--tail', '5'])).stdout);
    expect(Array.isArray(logs.items)).toBe(true);
    expect(JSON.parse((await ok(['env', '--json', '-a', 'cli-web'])).stdout)).toEqual({ env: {} });
  });

  it('shows and sets scale to zero; a wrong state is a usage error', async () => {
    expect((await ok(['scale-to-zero', '-a', 'cli-web'])).stdout.trim()).toBe('cli-web: scale to zero off');
    expect((await ok(['scale-to-zero', 'on', '--idle-seconds', '600', '-a', 'cli-web'])).stdout.trim()).toBe(
      'cli-web: scale to zero on, suspended after 600 s idle (now running)',
    );
    const shown = JSON.parse((await ok(['scale-to-zero', '--json', '-a', 'cli-web'])).stdout);
    expect(shown).toEqual({ scaleToZero: { enabled: true, idleSeconds: 600 }, status: 'running' });
    expect((await ok(['scale-to-zero', 'off', '-a', 'cli-web'])).stdout.trim()).toBe('cli-web: scale to zero off');
    const wrong = await run(['scale-to-zero', 'maybe', '-a', 'cli-web']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/`on` or `off`/);
  });

  it('shows an API error as one line with its code (exit 1) and a usage error with exit 2', async () => {
    const missing = await run(['releases', '-a', 'no-such-app']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toEqual(['sidecar: app "no-such-app" not found (app_not_found)']);
    expect(missing.stdout).toBe('');
    const usage = await run(['destroy', 'cli-web', '--confirm', 'other']);
    expect(usage.code).toBe(2);
  });

  it('runs a one-off job and exits with its exit code', async () => {
    const r = await run(['run', '-a', 'cli-web', '--', 'node', '-e', "console.log('from the job'); process.exit(3)"]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toContain('from the job');
    await ok(['run', '-a', 'cli-web', '--', 'node', '-e', 'process.exit(0)']);
  });

  it('sets config and secrets, waiting for the rollout, and never echoes a secret', async () => {
    const set = await ok(['env', 'set', 'GREETING=hello there', 'MODE=a=b', '-a', 'cli-web']);
    expect(set.stdout).toMatch(/Set GREETING, MODE/);
    expect(set.stdout).toMatch(/cli-web v2 is serving/);
    expect(JSON.parse((await ok(['env', '--json', '-a', 'cli-web'])).stdout)).toEqual({
      env: { GREETING: 'hello there', MODE: 'a=b' },
    });
    const secret = await ok(['secrets', 'set', 'API_KEY=s3cr3t-value', '-a', 'cli-web']);
    expect(secret.stdout + secret.stderr).not.toContain('s3cr3t-value');
    expect((await ok(['secrets', '-a', 'cli-web'])).stdout).toBe('API_KEY\n');
    expect((await run(['env', 'set', 'NOVALUE', '-a', 'cli-web'])).code).toBe(2);
  });

  it('follows the logs until Ctrl-C, then exits 0', async () => {
    const child = spawn(process.execPath, [SIDECAR_BIN, 'logs', '-f', '-a', 'cli-web', '--tail', '0'], {
      cwd: work,
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((r) => child.once('close', r));
    const seen = new Promise<void>((r) =>
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        if (out.includes('GET /marker')) r();
      }),
    );
    // The app logs nothing by itself: requests through the router until one line arrives.
    const poke = setInterval(() => void p.get('cli-web', '/marker'), 500);
    try {
      await seen;
    } finally {
      clearInterval(poke);
    }
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('rolls back to the previous release and returns once it serves', async () => {
    const dir = await appFolder('web', 'two');
    await ok(['deploy'], { cwd: dir }); // the app from .sidecar.json
    expect((await served('cli-web')).version).toBe('two');
    const r = await ok(['rollback'], { cwd: dir }); // to v3: the code of v1 with the env and secret set since
    expect(r.stdout).toMatch(/cli-web v5 is serving/);
    expect((await served('cli-web')).version).toBe('one');
  });

  it('fails a deploy whose build fails: exit 1, the build error shown', async () => {
    const dir = join(work, 'broken');
    await mkdir(dir);
    await writeFile(join(dir, 'README.md'), '# nothing to run');
    const r = await run(['deploy', dir, '-a', 'cli-broken']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deploy d_\w+ failed: .*no entry found.*\(bundle_invalid\)/);
  });

  it('adds a git remote that authenticates through the credential helper, no token in .git/config', async () => {
    const dir = join(work, 'web');
    const r = await ok(['git-remote'], { cwd: dir });
    expect(r.stdout).toMatch(/Added remote sidecar → http:\/\/127\.0\.0\.1:\d+\/git\/cli-web\.git/);
    const gitConfig = await readFile(join(dir, '.git', 'config'), 'utf8');
    expect(gitConfig).not.toMatch(/sct_/);
    const cliFile = JSON.parse(await readFile(join(home, 'config', 'sidecar', 'config.json'), 'utf8'));
    const [url, token] = Object.entries(cliFile.gitCredentials as Record<string, string>)[0]!;
    expect(token).toMatch(/^sct_/);
    expect(token).not.toBe(p.token); // a deployer token of its own
    // git asks the helper (no prompt: GIT_TERMINAL_PROMPT=0) and is let in.
    await git('git', ['-C', dir, 'ls-remote', 'sidecar'], {
      env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), GIT_TERMINAL_PROMPT: '0' },
    });
    expect(url).toMatch(/\/git\/cli-web\.git$/);
    // The app is now inferred from the remote, too.
    await rm(join(dir, '.sidecar.json'));
    expect(JSON.parse((await ok(['releases', '--json'], { cwd: dir })).stdout).items).toHaveLength(5);
  });
});
