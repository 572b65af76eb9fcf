import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectRedis } from '@sidecar/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  containerEnv,
  containerOf,
  createSecrets,
  deployDoc,
  freePort,
  Program,
  type ContainerDoc,
} from './deploy-manifests.js';

/**
 * Redis as deploy/kubernetes/redis.yaml runs it, with the real redis-server of this host: the
 * container's own script and environment (the password from a Secret that create-secrets.sh made),
 * only its port and data folder moved to ones of this test. The api's and the worker's
 * SIDECAR_REDIS_URL are built from the same Secret as the kubelet would, and must get in; nothing
 * without the password does.
 */
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sidecar-deploy-redis-'));
const container = containerOf(deployDoc('StatefulSet', 'redis'), 'redis');
const { values: secrets } = createSecrets();
const password = secrets['sidecar-redis/password']!;
let redis: Program;
let port = 0;

/** The container's script with the port and data folder of this test (each must be there to be moved). */
function scriptFor(c: ContainerDoc): string {
  expect(c.command).toEqual(['/bin/sh', '-c']);
  const script = c.args![0]!;
  expect(script).toContain('--port 6379 ');
  expect(script).toContain('--dir /data ');
  return script.replace('--port 6379 ', `--port ${port} --bind 127.0.0.1 `).replace('--dir /data ', `--dir ${dir} `);
}
const urlOf = (name: string) =>
  containerEnv(containerOf(deployDoc('Deployment', name), name), secrets).SIDECAR_REDIS_URL!.replace(
    '@redis.sidecar-system.svc.cluster.local:6379',
    `@127.0.0.1:${port}`,
  );
/** Runs `command` with what is answered, or the error's text. */
async function answer(url: string, command: (r: ReturnType<typeof connectRedis>) => Promise<unknown>) {
  const client = connectRedis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null }, () => {});
  try {
    return await command(client);
  } catch (e) {
    return (e as Error).message;
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  port = await freePort();
  redis = new Program('/bin/sh', ['-c', scriptFor(container)], { env: containerEnv(container, secrets) });
  await redis.until(
    async () => (await answer(`redis://:${password}@127.0.0.1:${port}`, (r) => r.ping())) === 'PONG',
    'redis from redis.yaml answers',
  );
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis from deploy/kubernetes/redis.yaml', () => {
  it('refuses every command without the password, and with a wrong one', async () => {
    expect(await answer(`redis://127.0.0.1:${port}`, (r) => r.set('sidecar:tokens:admin', 'x'))).toMatch(/NOAUTH/);
    expect(await answer(`redis://:wrong@127.0.0.1:${port}`, (r) => r.ping())).toMatch(/WRONGPASS|invalid password/);
  });

  it('lets the api and the worker in with the URL they build from the Secret, as the kubelet expands $(REDIS_PASSWORD)', async () => {
    for (const name of ['api', 'worker']) {
      const url = urlOf(name);
      expect(url).toBe(`redis://:${password}@127.0.0.1:${port}`);
      expect(await answer(url, (r) => r.ping())).toBe('PONG');
    }
  });

  it('runs with maxmemory (512mb) and the noeviction policy, as the single-host launcher does', async () => {
    const url = urlOf('worker');
    expect(await answer(url, (r) => r.config('GET', 'maxmemory-policy'))).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await answer(url, (r) => r.config('GET', 'maxmemory'))).toEqual(['maxmemory', String(512 * 1024 ** 2)]);
  });

  it('keeps the password off the command line: Redis is the process itself (exec) and its argv has no password', async () => {
    const pid = redis.child.pid!;
    expect(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).toMatch(/^redis-server/);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(password);
  });

  it("the readiness probe (redis-cli ping) passes with the container's environment and fails without it", async () => {
    const [cli, ...args] = container.readinessProbe!.exec!.command;
    const env = { ...containerEnv(container, secrets), PATH: process.env.PATH ?? '/usr/bin:/bin' };
    // The probe's command, pointed at this test's port (options go before redis-cli's command).
    const probe = (e: Record<string, string>) =>
      run(cli!, ['-p', String(port), ...args], { env: e }).then(
        (r) => r.stdout,
        (err: { stdout?: string }) => err.stdout ?? '',
      );
    expect((await probe(env)).trim()).toBe('PONG');
    const refused = { stdout: await probe({ PATH: env.PATH }) };
    expect(refused.stdout).toMatch(/NOAUTH/);
  });
});
