/**
 * The TLS terminator platform sidecar (`sidecar/tls-terminator`): HTTPS on
 * SIDECAR_TLS_PORT (8443) inside the pod, each connection's decrypted bytes piped
 * to the runtime on 127.0.0.1:SIDECAR_TLS_UPSTREAM_PORT (8080). It forwards bytes,
 * not requests, so any HTTP version the app speaks over TCP (and WebSockets) work
 * unchanged. Node builtins only: the image has no node_modules.
 * It never prints the certificate or key it is given (docs/sidecars.md).
 */
import net from 'node:net';
import tls from 'node:tls';

const env = process.env;
const cert = env.SIDECAR_TLS_CERT;
const key = env.SIDECAR_TLS_KEY;
const port = Number(env.SIDECAR_TLS_PORT ?? 8443);
const upstreamPort = Number(env.SIDECAR_TLS_UPSTREAM_PORT ?? 8080);
const drainMs = Number(env.SIDECAR_DRAIN_TIMEOUT_MS ?? 25_000);

if (!cert || !key) {
  console.error('tls-terminator: SIDECAR_TLS_CERT and SIDECAR_TLS_KEY must hold a PEM certificate and key');
  process.exit(1);
}

const open = new Set<net.Socket>();
const server = tls.createServer({ cert, key, minVersion: 'TLSv1.2' }, (client) => {
  const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
  open.add(client);
  client.once('close', () => open.delete(client));
  // Either side ending or failing ends the other: no half-dead pairs.
  const endBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', endBoth);
  upstream.on('error', endBoth);
  client.pipe(upstream);
  upstream.pipe(client);
});
// A failed handshake (a client that does not trust the CA, a port scan) is the client's problem, not ours.
server.on('tlsClientError', () => undefined);
server.listen(port, () => console.log(`tls-terminator: https on :${port} → 127.0.0.1:${upstreamPort}`));

// As a native sidecar it is stopped after the runtime: stop accepting, let open connections end, exit 0.
const stop = () => {
  server.close(() => process.exit(0));
  for (const s of open) s.end();
  setTimeout(() => process.exit(0), drainMs).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
