import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createCommandEnv } from '../command-env.js';
import { loadConfig } from '../config.js';
import { buildProgram } from '../program.js';
import { createUi } from '../ui.js';
import { bashCompletion } from './completion.command.js';

const bash = promisify(execFile);
const program = buildProgram(
  createCommandEnv({
    config: loadConfig({}),
    ui: createUi({ stdout: process.stdout, stderr: process.stderr, plain: true }),
    cwd: process.cwd(),
    proc: process,
    self: { node: process.execPath, bin: 'sidecar' },
  }),
);

/** What bash offers after `line` (the script sourced in a real bash, the completion function called). */
async function complete(line: string): Promise<string[]> {
  const words = line.split(' ');
  const script = `${bashCompletion(program)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_sidecar_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await bash('bash', ['-c', script]);
  return stdout.split('\n').filter(Boolean);
}

describe('bash completion', () => {
  it('completes commands, subcommands and flags from the command tree', async () => {
    expect(await complete('sidecar dep')).toEqual(['deploy']);
    expect(await complete('sidecar env ')).toEqual(expect.arrayContaining(['set', 'unset', '--app', '--json']));
    expect(await complete('sidecar logs --ta')).toEqual(['--tail']);
    expect(await complete('sidecar pod run --')).toEqual(expect.arrayContaining(['--timeout', '--keep']));
    expect(await complete('sidecar g')).toEqual(['git-remote']); // git-credential is hidden
  });
});
