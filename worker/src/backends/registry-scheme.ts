import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type Docker from 'dockerode';

interface EngineRegistryConfig {
  IndexConfigs?: Record<string, { Secure?: boolean }>;
  InsecureRegistryCIDRs?: string[];
}

/**
 * The URL to reach `registry` (host[:port]) at, by the rule of the engine that pushes to it: plain
 * HTTP where the engine treats the registry as insecure (listed in its `insecure-registries`, as the
 * builder of deploy/kubernetes lists the bundled registry, or on an address in its insecure CIDRs,
 * 127.0.0.0/8 by default), HTTPS elsewhere. One rule for both, so the worker talks to the registry
 * exactly as the pushes did, and never sends its password in clear to a registry the engine holds secure.
 */
export async function registryBaseUrl(docker: Docker, registry: string): Promise<string> {
  const info = (await docker.info()) as { RegistryConfig?: EngineRegistryConfig };
  return `${(await isInsecure(registry, info.RegistryConfig ?? {})) ? 'http' : 'https'}://${registry}`;
}

async function isInsecure(registry: string, config: EngineRegistryConfig): Promise<boolean> {
  const listed = config.IndexConfigs?.[registry];
  if (listed) return listed.Secure === false;
  const host = hostOf(registry);
  const cidrs = new BlockList();
  for (const cidr of config.InsecureRegistryCIDRs ?? []) {
    const [net, bits] = cidr.split('/');
    const type = isIP(net ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (net && bits) cidrs.addSubnet(net, Number(bits), type);
  }
  // A name counts by its addresses, as the engine resolves it; a name that does not resolve is not insecure.
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await lookup(host, { all: true }).catch(() => []);
  return addresses.some((a) => cidrs.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'));
}

/** `host:port`, `[v6]:port`, `host` → the host. */
function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon > 0 && registry.indexOf(':') === colon ? registry.slice(0, colon) : registry;
}
