import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tgzOf } from '../support/bundles.js';
import { createApp, deploy } from '../support/deploys.js';
import { stopPlatform } from '../support/docker-cleanup.js';
import { type RunningPlatform, startPlatform } from '../support/platform.js';

// One-off jobs against an app's current release: the Job pod completes although its logic sidecar runs.
let p: RunningPlatform;
beforeAll(async () => {
  p = await startPlatform();
  await createApp(p, 'jobs', { env: { GREETING: 'hello from env' } });
  const { deploy: d, log } = await deploy(
    p,
    'jobs',
    await tgzOf({
      'index.js': "module.exports = (q, s) => s.end('web');",
      'task.js':
        "console.log(process.env.GREETING, process.argv.slice(2).join(' ')); console.error('to stderr'); process.exit(Number(process.env.CODE ?? 0));",
    }),
  );
  if (d.status !== 'succeeded') throw new Error(log);
}, 180_000);
afterAll(async () => {
  await stopPlatform(p);
}, 120_000);

async function runJob(body: Record<string, unknown>) {
  const res = await p.api$('/api/v1/apps/jobs/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  const job = (await res.json()) as { id: string; status: string; release: number };
  expect(job).toMatchObject({ status: 'pending', release: 1 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const cur = await (await p.api$(`/api/v1/apps/jobs/jobs/${job.id}`)).json();
    if (cur.status === 'succeeded' || cur.status === 'failed') return cur;
    if (Date.now() > deadline) throw new Error(`job still ${cur.status} after 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('jobs', () => {
  it('runs a command in the bundle with the app env, completes, and keeps its output', async () => {
    const job = await runJob({ command: ['node', 'task.js', 'migrate', '--all'] });
    expect(job).toMatchObject({ status: 'succeeded', exitCode: 0, error: null });
    expect(job.output).toContain('hello from env migrate --all');
    expect(job.output).toContain('to stderr');
    expect(job.finishedAt).not.toBeNull();
  });

  it('reports a failing command with its exit code', async () => {
    const job = await runJob({ command: ['node', 'task.js'], env: { CODE: '3' } });
    expect(job).toMatchObject({ status: 'failed', exitCode: 3 });
  });

  it('leaves the serving pods alone and lists jobs newest first', async () => {
    expect(await p.get('jobs')).toEqual({ status: 200, body: 'web' });
    const pods = await (await p.api$('/api/v1/apps/jobs/pods')).json();
    expect(pods.items).toHaveLength(1);
    const list = await (await p.api$('/api/v1/apps/jobs/jobs')).json();
    expect(list.items.map((j: { exitCode: number }) => j.exitCode)).toEqual([3, 0]);
  });

  it('refuses a job for an app with no release, and a malformed command', async () => {
    await createApp(p, 'empty');
    const none = await p.api$('/api/v1/apps/empty/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: ['true'] }),
    });
    expect(none.status).toBe(409);
    expect((await none.json()).code).toBe('no_release');
    const bad = await p.api$('/api/v1/apps/jobs/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'rm -rf /' }),
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).detail).toMatch(/command/);
  });
});
