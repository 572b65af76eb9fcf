import { describe, expect, it } from 'vitest';
import { parseStat } from './runtime-api.js';
import { workersIn } from './workers.js';

// The master's answers as HAProxy 2.6 prints them.
describe("the master's answers", () => {
  it('`show proc`: the current worker under "# workers", replaced ones under "# old workers"', () => {
    const proc = [
      '#<PID>          <type>          <reloads>       <uptime>        <version>      ',
      '21238           master          1 [failed: 0]   0d00h00m03s     2.6.12-1+deb12u4',
      '# workers',
      '21334           worker          0               0d00h00m01s     2.6.12-1+deb12u4',
      '# old workers',
      '21241           worker          1               0d00h00m03s     2.6.12-1+deb12u4',
      '# programs',
      '',
      '',
    ].join('\n');
    expect(workersIn(proc)).toEqual([
      { pid: 21334, current: true },
      { pid: 21241, current: false },
    ]);
    // Cut short while the master re-executes: no current worker in it.
    expect(workersIn(proc.slice(0, 120)).some((w) => w.current)).toBe(false);
  });

  it('`show stat`: only the columns asked for, by name', () => {
    const stat =
      '# pxname,svname,qcur,qmax,scur,smax,slim,stot\napp_a,BACKEND,0,0,2,3,,41\napp_a,pod-1,0,0,2,3,,41\n\n';
    expect(parseStat(stat, ['pxname', 'svname', 'scur', 'stot'])).toEqual([
      { pxname: 'app_a', svname: 'BACKEND', scur: '2', stot: '41' },
      { pxname: 'app_a', svname: 'pod-1', scur: '2', stot: '41' },
    ]);
    expect(parseStat("Can't find the target PID matching the prefix '@!99999'\n")).toEqual([]);
  });
});
