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
  it("keeps the container's processes, with CPU over the sampling interval and resident memory in bytes", () => {
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

  it("finds a container by its containerd id in the cgroup paths a kubelet's pods have (v1, systemd v2, seen from a cgroup namespace)", () => {
    const id = 'f3b1c0de'.repeat(8);
    const other = '0a1b2c3d'.repeat(8);
    const snapshot = (cgroup: (c: string) => string) =>
      [
        'uptime 100.00',
        `proc\t1\t0\t500\t${cgroup(other)}\t/pause `,
        `proc\t9\t10\t2000\t${cgroup(id)}\tnode server.js `,
        'uptime 100.50',
        `proc\t1\t0\t500\t${cgroup(other)}\t/pause `,
        `proc\t9\t20\t2000\t${cgroup(id)}\tnode server.js `,
      ].join('\n');
    const expected = [{ pid: 9, command: 'node server.js', cpuPercent: 20, memoryBytes: 2000 * 1024 }];
    expect(
      parseProcinfo(
        snapshot((c) => `/kubepods/burstable/pod0d6c6f4e-2f0a-4d39-9b8e-1f2a3b4c5d6e/${c}`),
        id,
      ),
    ).toEqual(expected);
    expect(
      parseProcinfo(
        snapshot(
          (c) =>
            `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d6c6f4e_2f0a.slice/cri-containerd-${c}.scope`,
        ),
        id,
      ),
    ).toEqual(expected);
    expect(
      parseProcinfo(
        snapshot((c) => `/../cri-containerd-${c}.scope`),
        id,
      ),
    ).toEqual(expected);
  });

  it('yields nothing for an empty container id (a container not started yet), which every path would contain', () => {
    expect(parseProcinfo(output, '')).toEqual([]);
  });
});
