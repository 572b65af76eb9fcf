import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Labels, type Pod } from '@sidecar/core';
import { PodRunner } from './pod-runner.js';
import { ustar } from './secret-volumes.js';
import { TEST_IMAGES, cleanupPods, docker, ensureTestImages, testPod, uniqueName } from './test-support.js';

// Volumes on Docker (real engine): a sized emptyDir is bounded, a secret volume holds root-owned
// files only the containers that mount it see, and a process of another uid in the same PID
// namespace reaches neither those files nor the holder's environment through /proc.
const d = docker();
const names: string[] = [];
const runners: PodRunner[] = [];
const FOREVER = 'while :; do sleep 1 & wait $!; done';

beforeAll(() => ensureTestImages(d));
afterAll(async () => {
  await Promise.allSettled(runners.map((r) => r.delete({ gracePeriodSeconds: 1 })));
  await cleanupPods(d, names);
});

async function run(pod: Pod, secrets?: Record<string, Record<string, string>>): Promise<PodRunner> {
  names.push(pod.metadata.name!);
  const r = new PodRunner({ docker: d, pod, pauseImage: TEST_IMAGES.pause, ...(secrets ? { secrets } : {}) });
  runners.push(r);
  await r.start();
  await r.waitFor((v) => v.containerStatuses.every((c) => c.state.running !== undefined), { timeoutMs: 30_000 });
  return r;
}

/** Runs a command in a pod's container; its exit code and merged output. */
async function execIn(pod: string, container: string, cmd: string): Promise<{ code: number; out: string }> {
  const [c] = await d.listContainers({
    filters: { label: [`${Labels.pod}=${pod}`, `${Labels.container}=${container}`] },
  });
  const exec = await d.getContainer(c!.Id).exec({ Cmd: ['sh', '-c', cmd], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const sink = new PassThrough();
  let out = '';
  sink.on('data', (b: Buffer) => (out += b.toString('utf8')));
  d.modem.demuxStream(stream, sink, sink);
  await new Promise((resolve) => stream.on('end', resolve));
  return { code: (await exec.inspect()).ExitCode ?? -1, out };
}

const as = (uid: number) => ({
  runAsUser: uid,
  runAsGroup: uid,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
});

describe('an emptyDir with a sizeLimit', () => {
  it('is a tmpfs of that size: a writer is refused past it (ENOSPC), another container reads what it wrote', async () => {
    const name = uniqueName('vol-sized');
    await run(
      testPod(name, {
        volumes: [{ name: 'logs', emptyDir: { sizeLimit: '1Mi' } }],
        containers: [
          {
            name: 'writer',
            image: TEST_IMAGES.base,
            command: ['sh', '-c', FOREVER],
            securityContext: as(1000),
            volumeMounts: [{ name: 'logs', mountPath: '/logs' }],
          },
          {
            name: 'reader',
            image: TEST_IMAGES.base,
            command: ['sh', '-c', FOREVER],
            securityContext: as(2001),
            volumeMounts: [{ name: 'logs', mountPath: '/logs', readOnly: true }],
          },
        ],
      }),
    );
    const write = await execIn(name, 'writer', 'dd if=/dev/zero of=/logs/app.log bs=1024 count=4096');
    expect(write.code).not.toBe(0);
    expect(write.out).toMatch(/No space left on device/);
    const read = await execIn(name, 'reader', 'wc -c < /logs/app.log');
    expect(Number(read.out.trim())).toBe(1024 * 1024);
  });
});

describe('a secret volume', () => {
  const secretPod = (name: string, intruderUid: number) =>
    testPod(name, {
      shareProcessNamespace: true,
      volumes: [{ name: 'material', secret: { secretName: 'tls', defaultMode: 0o444 } }],
      containers: [
        {
          name: 'holder',
          image: TEST_IMAGES.base,
          // It reads its key from the file and holds a secret in its environment, as a sidecar would.
          command: ['sh', '-c', `cat /run/material/tls.key > /dev/null && echo holder start; ${FOREVER}`],
          env: [{ name: 'HOLDER_ONLY', value: 'env-secret-value' }],
          securityContext: as(2002),
          volumeMounts: [{ name: 'material', mountPath: '/run/material', readOnly: true }],
        },
        { name: 'intruder', image: TEST_IMAGES.base, command: ['sh', '-c', FOREVER], securityContext: as(intruderUid) },
      ],
    });
  const secrets = { tls: { 'tls.key': 'KEY-MATERIAL', 'tls.crt': 'CERT' } };
  /**
   * What the intruder can read of the holder: its environment and its key through /proc/<pid>/root.
   * The holder is found by its command line (world-readable); the marker is assembled at run time so
   * the probe's own command line does not match. `found` proves the probe saw the holder at all.
   */
  const probe = (name: string) =>
    execIn(
      name,
      'intruder',
      [
        'm=holder; m="$m start"',
        'for d in /proc/[0-9]*; do',
        '  case "$(tr "\\0" " " < $d/cmdline 2>/dev/null)" in *"$m"*)',
        '    echo "found ${d#/proc/}"; cat $d/environ; cat $d/root/run/material/tls.key;;',
        '  esac',
        'done 2>&1',
        'ls /run/material 2>&1',
      ].join('\n'),
    );

  it('holds the Secret data as root-owned files of its mode, seen only where it is mounted', async () => {
    const name = uniqueName('vol-secret');
    await run(secretPod(name, 1000), secrets);
    const listed = await execIn(name, 'holder', 'stat -c "%n %u:%g %a" /run/material/tls.key /run/material/tls.crt');
    expect(listed.out.trim().split('\n')).toEqual(['/run/material/tls.key 0:0 444', '/run/material/tls.crt 0:0 444']);
    // Another uid in the same PID namespace: no environment, no files through /proc, no mount of its own.
    const seen = await probe(name);
    expect(seen.out).toMatch(/found \d+/);
    expect(seen.out).toMatch(/Permission denied/);
    expect(seen.out).toMatch(/No such file or directory/);
    expect(seen.out).not.toContain('KEY-MATERIAL');
    expect(seen.out).not.toContain('env-secret-value');
  });

  it('is as readable as the uid allows: an intruder of the same uid reads both (what the separate uid prevents)', async () => {
    const name = uniqueName('vol-same-uid');
    await run(secretPod(name, 2002), secrets);
    const seen = await probe(name);
    expect(seen.out).toMatch(/found \d+/);
    expect(seen.out).toContain('KEY-MATERIAL');
    expect(seen.out).toContain('env-secret-value');
  });

  it('a pod whose Secret was not supplied does not start, naming it', async () => {
    const name = uniqueName('vol-nosecret');
    names.push(name);
    const r = new PodRunner({ docker: d, pod: secretPod(name, 1000), pauseImage: TEST_IMAGES.pause });
    runners.push(r);
    await expect(r.start()).rejects.toThrow(/secret "tls" not found/);
  });
});

describe('ustar', () => {
  it('writes root-owned files with their modes, and the folders a nested path implies', () => {
    const tar = ustar([{ path: 'certs/tls.key', content: 'k', mode: 0o400 }]);
    expect(tar.length).toBe(512 * 3 + 1024);
    expect(tar.subarray(0, 6).toString()).toBe('certs/');
    expect(tar.subarray(512, 525).toString()).toBe('certs/tls.key');
    expect(tar.subarray(512 + 100, 512 + 107).toString()).toBe('0000400');
    expect(tar.subarray(512 + 108, 512 + 115).toString()).toBe('0000000');
  });
});
