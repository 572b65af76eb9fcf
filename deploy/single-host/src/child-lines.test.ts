import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '@sidecar/platform-process';
import { Child } from './child.js';
import { ChildLines } from './child-lines.js';

afterEach(() => vi.restoreAllMocks());

/** A logger that records what the launcher logs in a child's name. */
function recordingLog() {
  const logged: string[] = [];
  const log = {
    info: (_: object, m: string) => logged.push(`info ${m}`),
    warn: (_: object, m: string) => logged.push(`warn ${m}`),
  };
  return { log: log as unknown as Logger, logged };
}

describe("the launcher's view of its children's output", () => {
  it('passes JSON lines through in one write, logs other lines in order, and sees ready: true', () => {
    const writes: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (writes.push(String(s)), true));
    const { log, logged } = recordingLog();
    const lines = new ChildLines(log, 'json');
    const access = Array.from({ length: 3 }, (_, i) => `{"level":30,"msg":"access","path":"/${i}"}`);
    expect(lines.show('router', access, 'stdout')).toEqual({ ready: false });
    expect(writes).toEqual([access.map((l) => `${l}\n`).join('')]);

    writes.length = 0;
    const ready = '{"level":30,"ready":true,"msg":"listening"}';
    const result = lines.show('redis', ['{"msg":"a"}', '1:M * Ready to accept connections', ready, ''], 'stdout');
    expect(result).toEqual({ ready: true });
    // The JSON line before the plain one is out before the plain one is logged.
    expect(writes).toEqual(['{"msg":"a"}\n', `${ready}\n`]);
    expect(logged).toEqual(['info 1:M * Ready to accept connections']);
  });

  it('does not take a line that only mentions "ready":true in a string for the ready line', () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const lines = new ChildLines(recordingLog().log, 'json');
    expect(lines.show('router', ['{"msg":"access","path":"/?\\"ready\\":true"}'], 'stdout')).toEqual({ ready: false });
  });

  it('hands over every line a child writes, in order, whole, with a last line that has no newline', async () => {
    const got: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };
    // An unterminated line on stderr, then 5,000 lines written as fast as the child can, a multi-byte
    // character in each (split across reads somewhere); it waits to be stopped (then its pipes end).
    // stderr first: once all of stdout has arrived, the stderr write is done (writes to pipes are
    // synchronous), so the stop below cannot kill the child before it (it did once, under load).
    const script = `
      let s = '';
      for (let i = 0; i < 5000; i++) s += JSON.stringify({ msg: 'é' + i }) + '\\n';
      process.stderr.write('first\\nlast words');
      process.stdout.write(s);
      setInterval(() => {}, 60_000);
    `;
    const child = new Child({
      name: 'lines',
      command: process.execPath,
      args: ['-e', script],
      env: process.env,
      onLines: (lines, stream) => got[stream].push(...lines),
      onState: () => undefined,
      onGiveUp: () => undefined,
    });
    child.start();
    await vi.waitFor(() => expect(got.stdout.length).toBe(5000), { timeout: 20_000 });
    await child.stop();
    // The unterminated line is handed over when the pipe ends (the child stopped).
    await vi.waitFor(() => expect(got.stderr).toEqual(['first', 'last words']), { timeout: 20_000 });
    expect(got.stdout).toEqual(Array.from({ length: 5000 }, (_, i) => JSON.stringify({ msg: `é${i}` })));
  });
});
