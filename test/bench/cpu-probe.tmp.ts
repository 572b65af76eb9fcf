// Temporary probe (not committed): CPU µs per request of each process on the router path.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { connectRedis, createStores } from '@sidecar/store';
import { ensurePlatformImages } from '@sidecar/runtime-image';
import { freePort } from '../support/global-setup.js';
import { startPod, startProcess, wrk } from './router-bench-parts.js';

const root = join(import.meta.dirname, '../..');
const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
const kids = (pid: number): number[] => {
  const out = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim();
  const ps = out ? out.split('\n').map(Number) : [];
  return ps.flatMap((p) => [
    p,
    ...(() => {
      try {
        return kids(p);
      } catch {
        return [];
      }
    })(),
  ]);
};
async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  const docker = new Docker();
  const images = await ensurePlatformImages({ docker, log: () => undefined });
  const pod = await startPod(docker, images.runtimeNode, join(root, 'node_modules/ws'));
  const redisPort = await freePort();
  const redis = await startProcess(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    process.env,
    /Ready to accept/,
    join(dir, 'redis.log'),
  );
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const port = await freePort();
  const env = {
    ...process.env,
    SIDECAR_REDIS_URL: redisUrl,
    SIDECAR_REDIS_PREFIX: 'bench:',
    SIDECAR_DATA_DIR: dir,
    SIDECAR_ROUTER_PORT: String(port),
    SIDECAR_ROUTER_TLS_PORT: String(await freePort()),
    SIDECAR_ADMIN_TOKEN: 'bench-admin-token-0123456789',
    ...(process.env.PROBE_ENV ? JSON.parse(process.env.PROBE_ENV) : {}),
  };
  const router = await startProcess(
    process.execPath,
    [...(process.env.PROBE_ARGS ? process.env.PROBE_ARGS.split(' ') : []), join(root, 'router/dist/main.js')],
    env,
    /listening on http/,
    join(dir, 'router.log'),
  );
  const conn = connectRedis(redisUrl);
  const stores = createStores(conn, 'bench:');
  await stores.routes.set('bench', [{ pod: 'bench-pod', address: `127.0.0.1:${pod.port}` }]);
  const podPid = Number(
    execFileSync('docker', ['ps', '-q', '--filter', 'label=sidecar.paas/bench=router'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((id) => execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', id], { encoding: 'utf8' }).trim())[0],
  );
  await wrk(`http://127.0.0.1:${port}/`, Number(process.env.CONN ?? 32), 1);
  const procs: Record<string, number[]> = {
    haproxy: kids(router.pid!),
    routerNode: [router.pid!],
    redis: [redis.pid!],
    pod: [podPid],
  };
  for (let round = 0; round < 3; round++) {
    const before = Object.fromEntries(
      Object.entries(procs).map(([k, ps]) => [k, ps.reduce((a, p) => a + ticks(p), 0)]),
    );
    const self0 = process.cpuUsage();
    const r = await wrk(`http://127.0.0.1:${port}/`, Number(process.env.CONN ?? 32), 5);
    const self = process.cpuUsage(self0);
    const n = r.rps * 5;
    const per = Object.fromEntries(
      Object.entries(procs).map(([k, ps]) => [
        k,
        Math.round(((ps.reduce((a, p) => a + ticks(p), 0) - before[k]!) * 10_000) / n),
      ]),
    );
    console.log(
      JSON.stringify({
        rps: Math.round(r.rps),
        usPerReq: { ...per, probe: Math.round((self.user + self.system) / n) },
      }),
    );
  }
  const gone = new Promise((r) => router.once('exit', r));
  router.kill('SIGTERM');
  await gone;
  redis.kill('SIGKILL');
  await pod.remove();
  await stores.close();
  await conn.quit();
  setTimeout(() => process.exit(0), 1000);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
