import { describe, expect, it } from 'vitest';
import { parseProcinfo } from './process-insight.js';

const RUNTIME = 'a828957366f9';
const OTHER = 'a40ec3c2a455';
// What `procinfo.sh snapshot` prints (cgroup v1 paths here; v2 paths name the container the same way).
const output = [
  'uptime 5270.00',
  `proc\t1\t3\t1432\t/docker/${OTHER}ffff\tsleep 86400 `,
  `proc\t7\t100\t41000\t/docker/${RUNTIME}0000\tnode /sidecar/runtime.js `,
  `proc\t19\t50\t52000\t/docker/${RUNTIME}0000\tnode server.js `,
  'uptime 5270.50',
  `proc\t1\t3\t1432\t/docker/${OTHER}ffff\tsleep 86400 `,
  `proc\t7\t101\t41000\t/docker/${RUNTIME}0000\tnode /sidecar/runtime.js `,
  `proc\t19\t75\t52004\t/docker/${RUNTIME}0000\tnode server.js `,
  `proc\t23\t0\t900\t/docker/${RUNTIME}0000\tsh -c true `,
  '',
].join('\n');

describe('parseProcinfo', () => {
  it('keeps the container\'s processes, with CPU over the sampling interval and resident memory in bytes', () => {
    expect(parseProcinfo(output, RUNTIME)).toEqual([
      { pid: 7, command: 'node /sidecar/runtime.js', cpuPercent: 2, memoryBytes: 41000 * 1024 },
      { pid: 19, command: 'node server.js', cpuPercent: 50, memoryBytes: 52004 * 1024 },
      // Born between the samples: no interval to measure over yet.
      { pid: 23, command: 'sh -c true', cpuPercent: 0, memoryBytes: 900 * 1024 },
    ]);
  });

  it('yields nothing for empty or foreign output', () => {
    expect(parseProcinfo('', RUNTIME)).toEqual([]);
    expect(parseProcinfo('oci runtime error\n', RUNTIME)).toEqual([]);
  });
});
