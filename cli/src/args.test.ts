import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { UsageError } from './errors.js';

const usageError = (argv: string[]) => {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('parseArgs', () => {
  it('reads the three pod commands with their flags', () => {
    expect(parseArgs(['pod', 'run', 'p.yaml'])).toEqual({
      kind: 'pod-run',
      file: 'p.yaml',
      timeoutSeconds: undefined,
      keep: false,
    });
    expect(parseArgs(['pod', 'run', '--timeout', '2.5', '--keep', 'p.yaml'])).toEqual({
      kind: 'pod-run',
      file: 'p.yaml',
      timeoutSeconds: 2.5,
      keep: true,
    });
    expect(parseArgs(['pod', 'run', '-', '--timeout=3'])).toMatchObject({ file: '-', timeoutSeconds: 3 });
    expect(parseArgs(['pod', 'delete', 'web', '--grace-period', '0'])).toEqual({
      kind: 'pod-delete',
      name: 'web',
      gracePeriodSeconds: 0,
    });
    expect(parseArgs(['pod', 'get', 'web'])).toEqual({ kind: 'pod-get', name: 'web' });
  });

  it('gives help for no arguments, --help and pod --help', () => {
    expect(parseArgs([])).toEqual({ kind: 'help', topic: 'root' });
    expect(parseArgs(['--help'])).toEqual({ kind: 'help', topic: 'root' });
    expect(parseArgs(['pod', '--help'])).toEqual({ kind: 'help', topic: 'pod' });
    expect(parseArgs(['pod', 'run', 'x.yaml', '-h'])).toEqual({ kind: 'help', topic: 'pod' });
  });

  it('rejects unknown commands, unknown or malformed flags and missing arguments', () => {
    expect(usageError(['deploy']).topic).toBe('root');
    expect(usageError(['pod', 'list']).message).toBe('unknown pod command "list"');
    expect(usageError(['pod', 'run', 'p.yaml', '--force']).message).toBe('unknown flag "--force"');
    expect(usageError(['pod', 'get', 'web', '--grace-period', '3']).message).toBe('unknown flag "--grace-period"');
    expect(usageError(['pod', 'run', 'p.yaml', '-x']).message).toBe('unknown flag "-x"');
    expect(usageError(['pod', 'run', 'p.yaml', '--timeout', '0']).message).toMatch(/--timeout must be a number > 0/);
    expect(usageError(['pod', 'run', 'p.yaml', '--timeout']).message).toBe('flag --timeout needs a value');
    expect(usageError(['pod', 'delete', 'web', '--grace-period', '1.5']).message).toMatch(
      /--grace-period must be an integer >= 0/,
    );
    expect(usageError(['pod', 'run', 'p.yaml', '--keep=yes']).message).toBe('flag --keep takes no value');
    expect(usageError(['pod', 'run']).message).toBe('missing FILE');
    expect(usageError(['pod', 'get', 'a', 'b']).message).toBe('unexpected argument "b"');
    expect(usageError(['pod']).topic).toBe('pod');
  });
});
