import { startTlsSidecar as start } from '../../../test/support/tls-sidecar.js';

/** The real TLS sidecar (HAProxy with its image's configuration), as a pod runs it, in front of a local upstream. */
export async function startTlsSidecar(opts: {
  cert: string;
  key: string;
  upstreamPort: number;
}): Promise<{ address: string; stop(): Promise<void> }> {
  const sidecar = await start(opts);
  return { address: sidecar.address, stop: () => sidecar.stop().then(() => undefined) };
}
