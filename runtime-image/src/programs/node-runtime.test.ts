/**
 * The runtime main as users meet it: the compiled dist/programs/node-runtime.js as a real
 * child process, a workspace laid out like the loader leaves it, plain HTTP.
 * Build first: `npx tsc -b runtime-image`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  http,
  makeWorkspace,
  RUNTIME_JS,
  startRuntime,
  waitFor,
  waitReady,
  type RuntimeProcess,
} from '../test-support/runtime-process.js';

const running: RuntimeProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function run(
  files: Record<string, string>,
  manifest: Parameters<typeof makeWorkspace>[1],
  env?: Record<string, string>,
) {
  const ws = await makeWorkspace(files, manifest);
  const rt = await startRuntime({ workspace: ws.workspace, ...(env ? { env } : {}) });
  running.push(rt);
  return { ...ws, rt };
}

/** Waits until the bundle's code has created `name` in the bundle dir (the code signals us through the filesystem). */
const fileAppears = (path: string) => waitFor(`${path} to appear`, () => existsSync(path));

describe('node runtime', () => {
  it('is compiled', () => {
    expect(existsSync(RUNTIME_JS), 'run `npx tsc -b runtime-image` first').toBe(true);
  });

  it('answers 503 until the handler has loaded, then serves a (req, res) handler', async () => {
    // The entry blocks its own loading until the test creates `gate`: readiness before and after is observable.
    const { rt, bundleDir } = await run(
      {
        'index.mjs': `
          import { existsSync } from 'node:fs';
          while (!existsSync(new URL('./gate', import.meta.url))) await new Promise((r) => setTimeout(r, 20));
          export default (req, res) => { res.setHeader('content-type', 'text/plain'); res.end('hello ' + req.url); };`,
      },
      { runtime: 'node', mode: 'handler', entry: 'index.mjs' },
    );
    const notReady = await waitFor('listening', () => http({ port: rt.port, path: '/__sidecar/ready' }));
    expect(notReady.status).toBe(503);
    expect((await http({ port: rt.port, path: '/x' })).status).toBe(503);
    await writeFile(join(bundleDir, 'gate'), '');
    await waitReady(rt.port);
    const res = await http({ port: rt.port, path: '/x?y=1' });
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello /x?y=1');
    expect(rt.stderr()).toMatch(/handler mode, entry index\.mjs/);
  });

  it('serves a CommonJS module.exports Express app', async () => {
    const { rt, bundleDir } = await run(
      {
        'index.cjs': `
          const express = require('express');
          const app = express();
          app.get('/hi', (req, res) => res.json({ hi: req.query.name }));
          module.exports = app;`,
      },
      { runtime: 'node', mode: 'handler', entry: 'index.cjs' },
    );
    // The bundle's dependencies, as an installed bundle would have them.
    await symlink(join(process.cwd(), 'node_modules'), join(bundleDir, 'node_modules'));
    await waitReady(rt.port);
    const res = await http({ port: rt.port, path: '/hi?name=ada' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(res.body)).toEqual({ hi: 'ada' });
    expect((await http({ port: rt.port, path: '/nope' })).status).toBe(404);
  });

  it('adapts an ESM { fetch } handler: method, headers, URL, body in; status, headers, body out', async () => {
    const { rt } = await run(
      {
        'index.mjs': `
          export default {
            async fetch(request) {
              const body = await request.text();
              const url = new URL(request.url);
              return new Response(JSON.stringify({ method: request.method, host: url.host, path: url.pathname + url.search, test: request.headers.get('x-test'), body }), {
                status: 201,
                headers: [['content-type', 'application/json'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-reply', 'yes']],
              });
            },
          };`,
      },
      { runtime: 'node', mode: 'handler', entry: 'index.mjs' },
    );
    await waitReady(rt.port);
    const res = await http({
      port: rt.port,
      path: '/echo?q=1',
      method: 'POST',
      headers: { host: 'app.example.test', 'x-test': 'abc', 'content-type': 'text/plain' },
      body: 'payload-' + 'x'.repeat(100_000),
    });
    expect(res.status).toBe(201);
    expect(res.headers['x-reply']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const echoed = JSON.parse(res.body) as Record<string, string>;
    expect(echoed).toMatchObject({ method: 'POST', host: 'app.example.test', path: '/echo?q=1', test: 'abc' });
    expect(echoed.body).toBe('payload-' + 'x'.repeat(100_000));
  });

  it('answers 500 when a handler throws or rejects, logs the stack, and keeps serving', async () => {
    const { rt } = await run(
      {
        'index.js': `
          module.exports = async (req, res) => {
            if (req.url === '/throw') throw new Error('kaboom-sync-path');
            if (req.url === '/reject') { await null; throw new Error('kaboom-async-path'); }
            res.end('fine');
          };`,
      },
      { runtime: 'node', mode: 'handler', entry: 'index.js' },
    );
    await waitReady(rt.port);
    expect((await http({ port: rt.port, path: '/throw' })).status).toBe(500);
    expect((await http({ port: rt.port, path: '/reject' })).status).toBe(500);
    await waitFor('stack in stderr', () => /kaboom-async-path[\s\S]*at /.test(rt.stderr()));
    expect(rt.stderr()).toContain('kaboom-sync-path');
    expect((await http({ port: rt.port, path: '/ok' })).body).toBe('fine');
  });

  it('rejects an entry that exports neither a function nor a fetch handler, with a clear message', async () => {
    const { rt } = await run(
      { 'index.mjs': 'export default 42;' },
      { runtime: 'node', mode: 'handler', entry: 'index.mjs' },
    );
    await waitFor('error in stderr', () => /must export .*function \(req, res\).*fetch\(request\)/.test(rt.stderr()));
    expect((await http({ port: rt.port, path: '/__sidecar/ready' })).status).toBe(503);
  });

  it('stays up but never ready when the entry throws at load, with the error on stderr', async () => {
    const { rt } = await run(
      { 'index.js': `throw new Error('broken at load 7f3a');` },
      { runtime: 'node', mode: 'handler', entry: 'index.js' },
    );
    await waitFor('load error in stderr', () => /broken at load 7f3a[\s\S]*at /.test(rt.stderr()));
    expect((await http({ port: rt.port, path: '/__sidecar/ready' })).status).toBe(503);
    expect((await http({ port: rt.port, path: '/' })).status).toBe(503);
    expect(rt.child.exitCode).toBeNull();
  });

  it('serves a static site with content types and index.html, and never a file outside the root', async () => {
    const { rt, bundleDir } = await run(
      {
        'public/index.html': '<h1>home</h1>',
        'public/docs/index.html': '<h1>docs</h1>',
        'public/style.css': 'body{}',
        'public/app.js': 'console.log(1)',
        'secret.txt': 'TOP-SECRET',
      },
      { runtime: 'node', mode: 'static', root: 'public' },
    );
    await symlink('../secret.txt', join(bundleDir, 'public', 'leak.txt'));
    await waitReady(rt.port);

    const home = await http({ port: rt.port, path: '/' });
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(home.body).toBe('<h1>home</h1>');
    expect((await http({ port: rt.port, path: '/docs/' })).body).toBe('<h1>docs</h1>');
    expect((await http({ port: rt.port, path: '/docs' })).body).toBe('<h1>docs</h1>');
    expect((await http({ port: rt.port, path: '/style.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await http({ port: rt.port, path: '/app.js' })).headers['content-type']).toBe(
      'text/javascript; charset=utf-8',
    );
    expect((await http({ port: rt.port, path: '/missing.html' })).status).toBe(404);

    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/docs/..%2f..%2fsecret.txt',
      '/leak.txt',
      '/%00',
    ]) {
      const res = await http({ port: rt.port, path });
      expect([400, 404], path).toContain(res.status);
      expect(res.body, path).not.toContain('TOP-SECRET');
    }
  });

  it('runs a process-mode bundle with PORT set, forwards SIGTERM and exits with its code', async () => {
    // The image's /bin/sh is busybox (which execs a lone command); the host's is dash (which forks). Use the image's.
    const shDir = await mkdtemp(join(tmpdir(), 'sidecar-sh-'));
    await symlink('/bin/busybox', join(shDir, 'sh'));
    const { rt } = await run(
      {
        'server.js': `
          const http = require('node:http');
          const server = http.createServer((req, res) => res.end('from process on ' + process.env.PORT + ' in ' + process.cwd()));
          server.listen(Number(process.env.PORT), () => console.log('user server listening'));
          process.on('SIGTERM', () => server.close(() => process.exit(7)));`,
      },
      { runtime: 'node', mode: 'process', start: 'node server.js' },
      { PATH: `${shDir}:${process.env.PATH ?? ''}` },
    );
    await waitFor('user server listening', () => rt.stdout().includes('user server listening'));
    const res = await http({ port: rt.port, path: '/' });
    expect(res.status).toBe(200);
    expect(res.body).toMatch(new RegExp(`^from process on ${rt.port} in .*releases/r1$`));
    rt.child.kill('SIGTERM');
    expect(await rt.exited).toEqual({ code: 7, signal: null });
    expect(rt.stderr()).toContain('process exited with code 7');
    await rm(shDir, { recursive: true, force: true });
  });

  it('on SIGTERM turns not-ready, refuses new connections, lets an in-flight request finish, exits 0', async () => {
    const { rt, bundleDir } = await run(
      {
        'index.mjs': `
          import { existsSync, writeFileSync } from 'node:fs';
          const here = (f) => new URL('./' + f, import.meta.url);
          export default async (req, res) => {
            if (req.url !== '/slow') return res.end('quick');
            writeFileSync(here('started'), '');
            while (!existsSync(here('finish'))) await new Promise((r) => setTimeout(r, 20));
            res.end('slow done');
          };`,
      },
      { runtime: 'node', mode: 'handler', entry: 'index.mjs' },
    );
    await waitReady(rt.port);
    const slow = http({ port: rt.port, path: '/slow' });
    await fileAppears(join(bundleDir, 'started'));
    rt.child.kill('SIGTERM');
    await waitFor('drain to start', () => rt.stderr().includes('SIGTERM: draining'));
    // The listening socket is closed: new connections are refused.
    await expect(http({ port: rt.port, path: '/__sidecar/ready' })).rejects.toThrow(/ECONNREFUSED/);
    expect(rt.child.exitCode).toBeNull();
    await writeFile(join(bundleDir, 'finish'), '');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.body).toBe('slow done');
    expect(res.headers.connection).toBe('close');
    expect(await rt.exited).toEqual({ code: 0, signal: null });
  });
});
