import net from 'node:net';

/** PROXY protocol v2 (haproxy.org proxy-protocol.txt §2.2): the signature every header starts with. */
const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const VERSION_2_PROXY = 0x21;
const TCP_OVER_IPV4 = 0x11;
const TCP_OVER_IPV6 = 0x21;

/**
 * Pure: the header that tells the TLS sidecar who the client is, sent before the client's
 * first bytes (TLS is passed through, so the sidecar cannot learn it from HTTP). Undefined when
 * the addresses are not both IPv4 or both IPv6 (the sidecar then sees the router as the client).
 */
export function proxyV2Header(
  source: { address: string; port: number },
  destination: { address: string; port: number },
): Buffer | undefined {
  const v4 = net.isIPv4(source.address) && net.isIPv4(destination.address);
  const v6 = net.isIPv6(source.address) && net.isIPv6(destination.address);
  if (!v4 && !v6) return undefined;
  const addresses = v4
    ? Buffer.concat([ipv4(source.address), ipv4(destination.address)])
    : Buffer.concat([ipv6(source.address), ipv6(destination.address)]);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(source.port, 0);
  ports.writeUInt16BE(destination.port, 2);
  const head = Buffer.alloc(4);
  head[0] = VERSION_2_PROXY;
  head[1] = v4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6;
  head.writeUInt16BE(addresses.length + ports.length, 2);
  return Buffer.concat([SIGNATURE, head, addresses, ports]);
}

const ipv4 = (a: string) => Buffer.from(a.split('.').map(Number));

function ipv6(a: string): Buffer {
  const [left = '', right] = a.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const tail = right === undefined ? [] : groups(right);
  const head = groups(left);
  const all = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
