/**
 * Pure: the server name (SNI) of a TLS ClientHello, read from the first bytes a
 * client sends, so the router can pick a pod without terminating TLS itself.
 * RFC 8446 §4.1.2 (ClientHello) and RFC 6066 §3 (server_name).
 */
export type SniResult =
  { kind: 'incomplete' } | { kind: 'not-tls' } | { kind: 'hello'; serverName: string | undefined };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME_EXTENSION = 0x0000;
const HOST_NAME = 0x00;
/** A TLS record holds at most 2^14 bytes of plaintext. */
export const MAX_RECORD = 5 + 16_384;

/**
 * Reads the ClientHello from the first TLS record. `incomplete` means more bytes
 * are needed; a ClientHello split over several records (very rare: huge
 * extensions) is treated as not-tls rather than reassembled.
 */
export function parseClientHello(buf: Buffer): SniResult {
  if (buf.length < 5) return buf.length > 0 && buf[0] !== HANDSHAKE ? { kind: 'not-tls' } : { kind: 'incomplete' };
  if (buf[0] !== HANDSHAKE || buf[1] !== 0x03) return { kind: 'not-tls' };
  const recordLength = buf.readUInt16BE(3);
  if (recordLength > MAX_RECORD - 5) return { kind: 'not-tls' };
  if (buf.length < 5 + recordLength) return { kind: 'incomplete' };
  const body = buf.subarray(5, 5 + recordLength);
  const r = new Reader(body);
  if (r.u8() !== CLIENT_HELLO) return { kind: 'not-tls' };
  const helloLength = r.u24();
  if (helloLength > body.length - 4) return { kind: 'not-tls' };
  r.skip(2 + 32); // legacy_version, random
  r.skip(r.u8()); // legacy_session_id
  r.skip(r.u16()); // cipher_suites
  r.skip(r.u8()); // legacy_compression_methods
  if (r.done()) return { kind: 'hello', serverName: undefined }; // no extensions at all
  const extensionsEnd = r.offset + 2 + r.peekU16();
  r.skip(2);
  while (r.offset + 4 <= extensionsEnd && !r.failed) {
    const type = r.u16();
    const length = r.u16();
    if (type !== SERVER_NAME_EXTENSION) {
      r.skip(length);
      continue;
    }
    const listEnd = r.offset + 2 + r.peekU16();
    r.skip(2);
    while (r.offset + 3 <= listEnd && !r.failed) {
      const nameType = r.u8();
      const name = r.bytes(r.u16());
      if (nameType === HOST_NAME && !r.failed)
        return { kind: 'hello', serverName: name.toString('ascii').toLowerCase() };
    }
    break;
  }
  return r.failed ? { kind: 'not-tls' } : { kind: 'hello', serverName: undefined };
}

/** Bounds-checked big-endian reads; a read past the end sets `failed` instead of throwing. */
class Reader {
  offset = 0;
  failed = false;
  constructor(private readonly buf: Buffer) {}
  private has(n: number): boolean {
    if (this.offset + n > this.buf.length) this.failed = true;
    return !this.failed;
  }
  u8(): number {
    if (!this.has(1)) return 0;
    return this.buf[this.offset++]!;
  }
  u16(): number {
    const v = this.peekU16();
    if (!this.failed) this.offset += 2;
    return v;
  }
  peekU16(): number {
    return this.has(2) ? this.buf.readUInt16BE(this.offset) : 0;
  }
  u24(): number {
    if (!this.has(3)) return 0;
    const v = this.buf.readUIntBE(this.offset, 3);
    this.offset += 3;
    return v;
  }
  skip(n: number): void {
    if (this.has(n)) this.offset += n;
  }
  bytes(n: number): Buffer {
    if (!this.has(n)) return Buffer.alloc(0);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  done(): boolean {
    return this.offset >= this.buf.length;
  }
}
