/**
 * The platform's own certificate authority, which signs the TLS sidecars'
 * certificates. It lives under `<data dir>/ca/` (key mode 0600) and is created on
 * first start by whichever process (API or worker) gets there first. Node cannot
 * sign X.509 certificates itself, so signing runs the `openssl` CLI through
 * execFile with argument arrays (no shell); keys are made with Node's crypto.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Browsers cap leaf validity at 398 days; the CA itself is long-lived. */
const LEAF_DAYS = 397;
const CA_DAYS = 3650;

export interface IssuedCertificate {
  cert: string;
  key: string;
}

const newKeyPem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`openssl ${args[0]} failed${stderr ? `: ${stderr}` : ''}`, { cause: e });
  }
}

/** A private scratch directory for openssl's input files, removed afterwards whatever happens. */
async function withScratch<T>(parent: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(parent, '.ca-tmp-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export class PlatformCa {
  private constructor(
    private readonly dir: string,
    /** The CA certificate (PEM): what clients trust, served at GET /api/v1/ca.pem. */
    readonly certPem: string,
  ) {}

  /**
   * Loads `<dataDir>/ca`, creating it when missing. The CA is made in a scratch
   * directory and renamed into place: rename fails when another process already
   * placed one, and then that one is used, so racing first starts agree on one CA.
   */
  static async load(dataDir: string, opts: { appsDomain?: string } = {}): Promise<PlatformCa> {
    const dir = join(dataDir, 'ca');
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (cert !== undefined) return new PlatformCa(dir, cert);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const staging = await mkdtemp(join(dataDir, '.ca-new-'));
    try {
      await writeFile(join(staging, 'key.pem'), newKeyPem(), { mode: 0o600 });
      await openssl([
        'req',
        '-x509',
        '-new',
        '-key',
        join(staging, 'key.pem'),
        '-out',
        join(staging, 'cert.pem'),
        '-days',
        String(CA_DAYS),
        '-subj',
        '/O=Sidecar PaaS/CN=Sidecar PaaS platform CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        // Users are told to trust this CA: it can only ever vouch for the apps' own names.
        ...(opts.appsDomain && /^[a-z0-9.-]+$/i.test(opts.appsDomain)
          ? ['-addext', `nameConstraints=critical,permitted;DNS:.${opts.appsDomain},permitted;DNS:${opts.appsDomain}`]
          : []),
      ]);
      await rename(staging, dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST' && e.code !== 'ENOTEMPTY') throw e;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return new PlatformCa(dir, await readFile(join(dir, 'cert.pem'), 'utf8'));
  }

  /** A server certificate for `dnsName` (SAN), signed by this CA, with a fresh key. */
  async issue(dnsName: string): Promise<IssuedCertificate> {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(dnsName))
      throw new Error(`not a DNS name: ${JSON.stringify(dnsName)}`);
    const key = newKeyPem();
    const cert = await withScratch(this.dir, async (tmp) => {
      const paths = {
        key: join(tmp, 'key.pem'),
        csr: join(tmp, 'req.csr'),
        ext: join(tmp, 'ext.cnf'),
        cert: join(tmp, 'cert.pem'),
      };
      await writeFile(paths.key, key, { mode: 0o600 });
      await writeFile(
        paths.ext,
        [
          'basicConstraints=critical,CA:FALSE',
          'keyUsage=critical,digitalSignature,keyEncipherment',
          'extendedKeyUsage=serverAuth',
          `subjectAltName=DNS:${dnsName}`,
          '',
        ].join('\n'),
      );
      await openssl(['req', '-new', '-key', paths.key, '-out', paths.csr, '-subj', `/CN=${dnsName}`]);
      await openssl([
        'x509',
        '-req',
        '-in',
        paths.csr,
        '-CA',
        join(this.dir, 'cert.pem'),
        '-CAkey',
        join(this.dir, 'key.pem'),
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        String(LEAF_DAYS),
        '-sha256',
        '-extfile',
        paths.ext,
        '-out',
        paths.cert,
      ]);
      return readFile(paths.cert, 'utf8');
    });
    return { cert, key };
  }
}
