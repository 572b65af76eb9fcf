/**
 * The build contexts of the platform images, as data. Every Dockerfile works
 * with the classic builder (no BuildKit syntax) and FROM scratch or FROM an
 * image built here, because nothing can be pulled on the machines we run on.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  LOADER_PORT,
  Labels,
  LOG_SHIPPER,
  NODE_TRUST_FILE,
  NODE_TRUST_OPTION,
  PLATFORM_SIDECAR_USERS,
} from '@sidecar/core';
import type { BuildContext, ContextEntry } from './build-context.js';
import {
  GROUP,
  PASSWD,
  binaryEntries,
  busyboxEntries,
  nodeEntries,
  requireListeningNc,
  treeEntries,
} from './host-files.js';
import { staticBinary } from './static-binary.js';

export interface HostPaths {
  busybox: string;
  node: string;
  /** HAProxy, the TLS sidecar (Debian's package; scripts/prepare-host.sh installs it). */
  haproxy: string;
  npmDir: string;
  caBundle: string;
  /** Where the compiled runtime lives (runtime-image/dist). */
  runtimeDist: string;
  /** runtime-image/ itself (pause/, logic-base/ scripts, log-shipper/ C sources, tls-terminator/ config). */
  packageDir: string;
  /** The C compiler for the static log shipper. */
  cc: string;
}

/** `USER uid:gid` of a platform sidecar: its own user, never the app's (docs/security.md, "intra-pod"). */
const userOf = (sidecar: keyof typeof PLATFORM_SIDECAR_USERS) =>
  `${PLATFORM_SIDECAR_USERS[sidecar].uid}:${PLATFORM_SIDECAR_USERS[sidecar].gid}`;

const managedLabel = (image: string) =>
  `LABEL ${Labels.managed}="true" ${Labels.kind}="platform-image" ${Labels.role}="${image}"`;

/** An empty directory, so `COPY --chown` can create it owned by the app user. */
const emptyDir = (name: string): ContextEntry => ({ type: 'directory', name, mode: 0o755 });

export async function pauseContext(paths: HostPaths): Promise<BuildContext> {
  return {
    dockerfile: [
      'FROM scratch',
      'COPY rootfs/ /',
      'ENV PATH=/bin',
      'USER 1000:1000',
      'ENTRYPOINT ["/bin/sh", "/sidecar/pause.sh"]',
      managedLabel('pause'),
      '',
    ].join('\n'),
    entries: [
      ...(await busyboxEntries(paths.busybox)),
      {
        type: 'file',
        name: 'rootfs/sidecar/pause.sh',
        content: await readFile(`${paths.packageDir}/pause/pause.sh`),
        mode: 0o755,
      },
    ],
  };
}

export async function logicBaseContext(paths: HostPaths): Promise<BuildContext> {
  await requireListeningNc(paths.busybox);
  return {
    dockerfile: [
      'FROM scratch',
      'COPY rootfs/ /',
      // Docker copies this directory's owner into an empty named volume mounted here,
      // which is what lets the loader (uid 1000) write into a fresh volume.
      'COPY --chown=1000:1000 workspace/ /workspace/',
      `ENV PATH=/bin SIDECAR_LOADER_PORT=${LOADER_PORT}`,
      'USER 1000:1000',
      'ENTRYPOINT ["/bin/sh", "/sidecar/loader.sh"]',
      managedLabel('logic-base'),
      // The worker reads it to know the loader listens (releases built from an older base are probed by the marker).
      `LABEL ${Labels.loaderPort}="${LOADER_PORT}"`,
      '',
    ].join('\n'),
    entries: [
      ...(await busyboxEntries(paths.busybox)),
      {
        type: 'file',
        name: 'rootfs/sidecar/loader.sh',
        content: await readFile(`${paths.packageDir}/logic-base/loader.sh`),
        mode: 0o755,
      },
      emptyDir('workspace'),
    ],
  };
}

/** Offline stand-in for `node:20-bookworm-slim`: node + libs + busybox + users + /tmp. */
export async function nodeBaseContext(paths: HostPaths): Promise<BuildContext> {
  return {
    dockerfile: [
      'FROM scratch',
      'COPY rootfs/ /',
      'ENV PATH=/usr/local/bin:/usr/bin:/bin',
      managedLabel('node-base'),
      '',
    ].join('\n'),
    entries: [
      ...(await busyboxEntries(paths.busybox)),
      ...(await nodeEntries(paths.node)),
      { type: 'file', name: 'rootfs/etc/passwd', content: PASSWD },
      { type: 'file', name: 'rootfs/etc/group', content: GROUP },
      { type: 'directory', name: 'rootfs/tmp', mode: 0o1777 },
    ],
  };
}

async function runtimeFiles(dist: string): Promise<ContextEntry[]> {
  const main = await readFile(`${dist}/node-runtime.js`).catch((cause: unknown) => {
    throw new Error(`compiled runtime not found in ${dist}; run \`npx tsc -b runtime-image\` first`, { cause });
  });
  const entries: ContextEntry[] = [
    { type: 'file', name: 'sidecar/runtime.js', content: main },
    // The compiled runtime is ESM; without this, node would read /sidecar/*.js as CommonJS.
    { type: 'file', name: 'sidecar/package.json', content: '{"type":"module"}\n' },
  ];
  for (const f of (await readdir(`${dist}/runtime`)).filter((n) => n.endsWith('.js')).sort()) {
    entries.push({ type: 'file', name: `sidecar/runtime/${f}`, content: await readFile(`${dist}/runtime/${f}`) });
  }
  return entries;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificates of PEM text, each parsed and written anew, once each. OpenSSL's store drops a whole file for
 * one bad block (Node then trusts nothing), where NODE_EXTRA_CA_CERTS kept what it could read: a block that does not
 * parse is left out and reported.
 */
function certificatesOf(pem: string, source: string, warn: (line: string) => void): string[] {
  const out = new Set<string>();
  for (const [block] of pem.matchAll(PEM_CERTIFICATE)) {
    try {
      out.add(new X509Certificate(block).toString().trim());
    } catch (e) {
      warn(`${source}: a certificate that does not parse was left out (${(e as Error).message})`);
    }
  }
  return [...out];
}

/**
 * What Node in the image trusts (NODE_TRUST_FILE, core node-trust.ts): its own roots, as without any option, and
 * the host's CA bundle. The roots are those of the host's node, the binary the offline base copies (with the
 * upstream base, those of the host's Node version); it runs without the host's environment (a NODE_OPTIONS there).
 */
async function nodeTrustFile(paths: HostPaths, warn: (line: string) => void): Promise<string> {
  const { stdout } = await promisify(execFile)(paths.node, ['-p', "require('tls').rootCertificates.join('\\n')"], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeout: 30_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const roots = certificatesOf(stdout, `${paths.node}'s root certificates`, warn);
  const host = certificatesOf(await readFile(paths.caBundle, 'utf8'), paths.caBundle, warn);
  return [...new Set([...roots, ...host])].join('\n') + '\n';
}

/** The stable runtime main. BASE is the offline node base or, with internet, `node:20-bookworm-slim`. */
export async function runtimeNodeContext(
  paths: HostPaths,
  base: string,
  warn: (line: string) => void = () => {},
): Promise<BuildContext> {
  return {
    dockerfile: [
      'ARG BASE',
      'FROM ${BASE}',
      'COPY sidecar/ /sidecar/',
      `COPY ca-certificates.crt ${NODE_TRUST_FILE}`,
      'COPY --chown=1000:1000 workspace/ /workspace/',
      `ENV PORT=8080 NODE_ENV=production NODE_OPTIONS=${NODE_TRUST_OPTION} SSL_CERT_FILE=${NODE_TRUST_FILE}`,
      'USER 1000:1000',
      'WORKDIR /workspace',
      'ENTRYPOINT ["node", "/sidecar/runtime.js"]',
      managedLabel('runtime-node'),
      '',
    ].join('\n'),
    buildArgs: { BASE: base },
    entries: [
      ...(await runtimeFiles(paths.runtimeDist)),
      { type: 'file', name: 'ca-certificates.crt', content: await nodeTrustFile(paths, warn), mode: 0o644 },
      emptyDir('workspace'),
    ],
  };
}

/** Where the TLS sidecar's HAProxy finds its configuration: a path named after the sidecar, as its command line shows. */
export const TLS_TERMINATOR_CONFIG = '/etc/tls-terminator/haproxy.cfg';

/**
 * The TLS terminator platform sidecar: the host's HAProxy and exactly the libraries `ldd` lists for
 * it, FROM scratch, with its configuration (runtime-image/tls-terminator/: HAProxy reads the ports,
 * the certificate's path and the drain limit from env). SIGUSR1 is HAProxy's graceful stop (SIGTERM
 * its immediate one), so it is the image's STOPSIGNAL: Docker, our kubelet and Kubernetes send it.
 */
export async function tlsTerminatorContext(paths: HostPaths): Promise<BuildContext> {
  const configDir = `${paths.packageDir}/tls-terminator`;
  const config = (name: string): ContextEntry => ({
    type: 'host-file',
    name: `rootfs/etc/tls-terminator/${name}`,
    hostPath: `${configDir}/${name}`,
    mode: 0o644,
  });
  return {
    dockerfile: [
      'FROM scratch',
      'COPY rootfs/ /',
      `USER ${userOf('tls')}`,
      'EXPOSE 8443',
      'STOPSIGNAL SIGUSR1',
      `ENTRYPOINT ["/usr/sbin/haproxy", "-db", "-f", "${TLS_TERMINATOR_CONFIG}"]`,
      managedLabel('tls-terminator'),
      '',
    ].join('\n'),
    entries: [
      ...(await binaryEntries({ hostPath: paths.haproxy, imagePath: '/usr/sbin/haproxy' }).catch((cause: unknown) => {
        throw new Error(
          `cannot copy HAProxy from ${paths.haproxy}: install Debian's haproxy (scripts/prepare-host.sh)`,
          {
            cause,
          },
        );
      })),
      config('haproxy.cfg'),
      config('upstream-failed.http'),
    ],
  };
}

/**
 * The log shipper platform sidecar: one static binary (runtime-image/log-shipper/*.c, compiled
 * here) FROM scratch, and its two mount points. Docker copies a directory's owner into an empty
 * named volume mounted on it, and the shipper is the first container of the pod to mount its state
 * volume, so it (its own uid) can write there. The app-log volume is a tmpfs open to all (1777) on
 * Docker and an emptyDir (0777) on Kubernetes: the runtime (uid 1000) writes there, the shipper
 * (in the app's group) reads.
 */
export async function logShipperContext(paths: HostPaths): Promise<BuildContext> {
  const binary = await staticBinary({
    sourceDir: `${paths.packageDir}/log-shipper`,
    name: 'log-shipper',
    cc: paths.cc,
  });
  return {
    dockerfile: [
      'FROM scratch',
      'COPY sidecar/ /sidecar/',
      `COPY --chown=1000:1000 app-logs/ ${LOG_SHIPPER.mountPath}/`,
      `COPY --chown=${userOf('logs')} state/ ${LOG_SHIPPER.statePath}/`,
      `USER ${userOf('logs')}`,
      'ENTRYPOINT ["/sidecar/log-shipper"]',
      managedLabel('log-shipper'),
      '',
    ].join('\n'),
    entries: [
      { type: 'host-file', name: 'sidecar/log-shipper', hostPath: binary, mode: 0o755 },
      emptyDir('app-logs'),
      emptyDir('state'),
    ],
  };
}

/** The procinfo platform sidecar: busybox and a script that reads /proc of the pod's shared PID namespace. */
export async function procinfoContext(paths: HostPaths): Promise<BuildContext> {
  return {
    dockerfile: [
      'FROM scratch',
      'COPY rootfs/ /',
      'ENV PATH=/bin',
      `USER ${userOf('procinfo')}`,
      'ENTRYPOINT ["/bin/sh", "/sidecar/procinfo.sh"]',
      managedLabel('procinfo'),
      '',
    ].join('\n'),
    entries: [
      ...(await busyboxEntries(paths.busybox)),
      {
        type: 'file',
        name: 'rootfs/sidecar/procinfo.sh',
        content: await readFile(`${paths.packageDir}/procinfo/procinfo.sh`),
        mode: 0o755,
      },
    ],
  };
}

const NPM_LAUNCHER = '#!/bin/sh\nexec node /usr/lib/node_modules/npm/bin/npm-cli.js "$@"\n';
const NPX_LAUNCHER = '#!/bin/sh\nexec node /usr/lib/node_modules/npm/bin/npx-cli.js "$@"\n';

/** runtime-node + npm, for `npm install` of a bundle's dependencies at build time. */
export async function builderNodeContext(paths: HostPaths, runtimeNode: string): Promise<BuildContext> {
  return {
    dockerfile: [
      'ARG RUNTIME',
      'FROM ${RUNTIME}',
      'COPY npm/ /usr/lib/node_modules/npm/',
      'COPY bin/ /usr/local/bin/',
      'COPY --chown=1000:1000 home/ /home/app/',
      'ENV HOME=/home/app npm_config_cache=/home/app/.npm npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false',
      // The caller decides what runs: `npm install …` as Cmd, no runtime in front of it.
      'ENTRYPOINT []',
      'CMD ["npm", "--version"]',
      'WORKDIR /home/app',
      managedLabel('builder-node'),
      '',
    ].join('\n'),
    buildArgs: { RUNTIME: runtimeNode },
    entries: [
      ...(await treeEntries(paths.npmDir, 'npm')),
      { type: 'file', name: 'bin/npm', content: NPM_LAUNCHER, mode: 0o755 },
      { type: 'file', name: 'bin/npx', content: NPX_LAUNCHER, mode: 0o755 },
      emptyDir('home'),
      emptyDir('home/.npm'),
    ],
  };
}
