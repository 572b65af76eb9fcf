import type { EnvVar } from './k8s-types.js';

/**
 * Which CAs Node trusts in the runtime image (runtime-image contexts.ts): the image's trust file, Node's own roots
 * followed by the host's CA bundle (outbound TLS may go through an intercepting proxy only the host trusts), read
 * through OpenSSL's store: the image sets NODE_OPTIONS=NODE_TRUST_OPTION and SSL_CERT_FILE=NODE_TRUST_FILE.
 * It replaced NODE_EXTRA_CA_CERTS, which Node 20 reads at every start: ~40 ms of each runtime's boot (by hand:
 * 55 ms from exec to the first line of code with it, 16 without); the store is read at the first TLS connection.
 */
export const NODE_TRUST_OPTION = '--use-openssl-ca';
export const NODE_TRUST_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** An option choosing Node's CA store, in any spelling Node accepts (`_` for `-`, `--no-` negations). */
const CA_STORE_OPTION = /(?:^|\s)--(?:no-)?use[-_](?:openssl|bundled)[-_]ca(?=[\s=]|$)/;

/**
 * The runtime's environment with the image's trust kept where an app's variables would lose it:
 * - an app's NODE_OPTIONS replaces the image's, so the trust option goes in front of it, unless it chooses a CA
 *   store itself (Node refuses two at once);
 * - an app that sets SSL_CERT_FILE or SSL_CERT_DIR (for its own tools) would make Node trust only that: then Node
 *   keeps its own roots and reads the trust file as NODE_EXTRA_CA_CERTS (unless the app set that too), as before
 *   the trust option, at that cost at each start.
 * Values are replaced where they stand (on Kubernetes a `$(VAR)` reference sees only variables before it).
 */
export function withNodeTrust(env: readonly EnvVar[]): EnvVar[] {
  const value = (name: string) => env.find((e) => e.name === name)?.value;
  const changes = new Map<string, string>();
  const nodeOptions = value('NODE_OPTIONS');
  if (value('SSL_CERT_FILE') !== undefined || value('SSL_CERT_DIR') !== undefined) {
    // The image's NODE_OPTIONS (the trust option) must not apply: an app's own, or none.
    changes.set('NODE_OPTIONS', nodeOptions ?? '');
    if (value('NODE_EXTRA_CA_CERTS') === undefined) changes.set('NODE_EXTRA_CA_CERTS', NODE_TRUST_FILE);
  } else if (nodeOptions !== undefined && !CA_STORE_OPTION.test(nodeOptions)) {
    changes.set('NODE_OPTIONS', `${NODE_TRUST_OPTION} ${nodeOptions}`.trimEnd());
  }
  const out = env.map((e) => (changes.has(e.name) ? { name: e.name, value: changes.get(e.name)! } : e));
  for (const [name, v] of changes) if (!env.some((e) => e.name === name)) out.push({ name, value: v });
  return out;
}
