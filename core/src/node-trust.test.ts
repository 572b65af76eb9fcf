import { describe, expect, it } from 'vitest';
import type { EnvVar } from './k8s-types.js';
import { NODE_TRUST_FILE, NODE_TRUST_OPTION, withNodeTrust } from './node-trust.js';

const env = (vars: Record<string, string>): EnvVar[] => Object.entries(vars).map(([name, value]) => ({ name, value }));

describe("withNodeTrust: the image's trusted CAs under an app's variables", () => {
  it("leaves an environment without NODE_OPTIONS or an OpenSSL file as it is (the image's NODE_OPTIONS applies)", () => {
    expect(withNodeTrust(env({ A: '1', PORT: '8080' }))).toEqual(env({ A: '1', PORT: '8080' }));
  });

  it("puts the trust option in front of an app's NODE_OPTIONS, where it stands", () => {
    expect(withNodeTrust(env({ A: '1', NODE_OPTIONS: '--max-old-space-size=64', Z: '2' }))).toEqual(
      env({ A: '1', NODE_OPTIONS: `${NODE_TRUST_OPTION} --max-old-space-size=64`, Z: '2' }),
    );
    expect(withNodeTrust(env({ NODE_OPTIONS: '' }))).toEqual(env({ NODE_OPTIONS: NODE_TRUST_OPTION }));
  });

  it('keeps an app that chose a CA store itself, in any spelling Node accepts (Node refuses two)', () => {
    for (const own of [
      '--use-bundled-ca',
      '--use_bundled_ca',
      '--use-openssl-ca --trace-warnings',
      '--trace-warnings --use_openssl_ca',
      '--no-use-openssl-ca',
      '--use-openssl-ca=false',
    ])
      expect(withNodeTrust(env({ NODE_OPTIONS: own }))).toEqual(env({ NODE_OPTIONS: own }));
    // Not an option of its own: a longer name.
    expect(withNodeTrust(env({ NODE_OPTIONS: '--use-bundled-cake' }))).toEqual(
      env({ NODE_OPTIONS: `${NODE_TRUST_OPTION} --use-bundled-cake` }),
    );
  });

  it("reads the trust file as Node's extra CAs when the app sets its own OpenSSL file or directory", () => {
    expect(withNodeTrust(env({ SSL_CERT_FILE: '/app/ca.pem' }))).toEqual([
      ...env({ SSL_CERT_FILE: '/app/ca.pem' }),
      ...env({ NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: NODE_TRUST_FILE }),
    ]);
    expect(withNodeTrust(env({ NODE_OPTIONS: '--inspect', SSL_CERT_DIR: '/app/certs' }))).toEqual(
      env({ NODE_OPTIONS: '--inspect', SSL_CERT_DIR: '/app/certs', NODE_EXTRA_CA_CERTS: NODE_TRUST_FILE }),
    );
    // Its own extra CAs stay its own.
    expect(withNodeTrust(env({ SSL_CERT_FILE: '/a.pem', NODE_EXTRA_CA_CERTS: '/b.pem' }))).toEqual(
      env({ SSL_CERT_FILE: '/a.pem', NODE_EXTRA_CA_CERTS: '/b.pem', NODE_OPTIONS: '' }),
    );
  });

  it('gives the same environment when applied twice (a job pod applies it to the runtime env again)', () => {
    const cases: Record<string, string>[] = [{ NODE_OPTIONS: '--inspect' }, { SSL_CERT_FILE: '/a.pem' }, {}];
    for (const vars of cases) {
      const once = withNodeTrust(env(vars));
      expect(withNodeTrust(once)).toEqual(once);
    }
  });
});
