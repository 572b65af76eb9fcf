import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ownerGone, poolOwner } from './pool-owner.js';

describe('pool owners (who may claim a warm holder)', () => {
  it('this process and another live one are not gone', () => {
    expect(ownerGone(poolOwner('abc123'))).toBe(false);
    expect(ownerGone(poolOwner('abc123', process.ppid))).toBe(false);
    expect(poolOwner('abc123')).toMatch(new RegExp(`^${hostname()}:${process.pid}:\\d+:abc123$`));
  });

  it('a process that exited is gone', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await once(child, 'spawn');
    const owner = poolOwner('abc123', child.pid);
    await once(child, 'exit');
    expect(ownerGone(owner)).toBe(true);
  });

  it('a pid now used by a later process is gone (its start time differs)', () => {
    expect(ownerGone(`${hostname()}:${process.ppid}:1:abc123`)).toBe(true);
    expect(ownerGone(`${hostname()}:${process.pid}:1:abc123`)).toBe(true);
  });

  it("another host's owner is never judged; a label no pool wrote is gone", () => {
    expect(ownerGone('some-other-host:1:1:abc123')).toBe(false);
    expect(ownerGone(undefined)).toBe(true);
    expect(ownerGone('garbage')).toBe(true);
  });

  it('an owner written before start times were recorded is judged by its pid', () => {
    expect(ownerGone(`${hostname()}:${process.pid}:abc123`)).toBe(false);
  });
});
