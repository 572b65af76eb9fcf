import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { statusBody, type FakeApiServer, type Obj, type RecordedRequest } from './test-support.js';

const EXEC_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/;
/** The channel protocols an API server speaks, newest first; the first one the client offers is chosen. */
const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const Channel = { stdout: 1, stderr: 2, status: 3 } as const;
const Opcode = { binary: 0x2, close: 0x8 } as const;

/** What a command run in a container does: what it prints and how it exits (`hang`: it prints, then never exits). */
export interface ExecResult {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  hang?: boolean;
}
/** One exec the client asked for, as the API server read it from the upgrade request. */
export interface ExecCall {
  ns: string;
  pod: string;
  container: string;
  command: string[];
  query: URLSearchParams;
  protocol: string;
}

/**
 * Exec for the fake API server (contract tests; not a kubelet, not a cluster): answers the
 * WebSocket upgrade of `GET /api/v1/namespaces/<ns>/pods/<pod>/exec?container=..&command=..`
 * with the channel protocol the API server speaks (RFC 6455 frames written here, read by the
 * client's real `ws` socket): the subprotocol is the first of the client's offers it knows
 * (v5 or v4.channel.k8s.io), each binary message starts with its channel (1 stdout, 2 stderr,
 * 3 the status as JSON: Success, or Failure with the exit code as an API server reports it),
 * then the server closes. A pod that is not in the fake server's store is a 404 before the
 * upgrade, a container the pod has not a 400, `failNext` a 500; what a command prints is scripted
 * with `script`.
 */
export class FakePodExec {
  readonly calls: ExecCall[] = [];
  private readonly connections = new Map<string, Set<Duplex>>();
  private readonly scripts = new Map<string, (command: string[]) => ExecResult>();
  private readonly failures = new Map<string, number>();

  constructor(private readonly api: FakeApiServer) {
    api.onUpgrade(EXEC_PATH, (rec, req, socket) => this.serve(rec, req, socket));
  }

  /** What commands run in this container print and how they exit (unscripted: exit 127, not found). */
  script(ns: string, pod: string, container: string, run: (command: string[]) => ExecResult): void {
    this.scripts.set(`${ns}/${pod}/${container}`, run);
  }

  /** The next `times` execs in this container fail with a 500 before the upgrade, as when the kubelet cannot be reached. */
  failNext(ns: string, pod: string, container: string, times = 1): void {
    this.failures.set(`${ns}/${pod}/${container}`, times);
  }

  /** How many exec connections into this pod are open now. */
  open(ns: string, pod: string): number {
    return this.connections.get(`${ns}/${pod}`)?.size ?? 0;
  }

  /** The execs asked for in one pod. */
  callsTo(ns: string, pod: string): ExecCall[] {
    return this.calls.filter((c) => c.ns === ns && c.pod === pod);
  }

  private serve(rec: RecordedRequest, req: http.IncomingMessage, socket: Duplex): void {
    const [, ns = '', pod = ''] = EXEC_PATH.exec(rec.path) ?? [];
    const query = new URL(req.url ?? '/', 'http://fake').searchParams;
    const container = query.get('container') ?? '';
    const obj = this.api.objects.get(`/api/v1/namespaces/${ns}/pods/${pod}`) as
      (Obj & { spec?: { containers?: { name: string }[]; initContainers?: { name: string }[] } }) | undefined;
    if (!obj) return refuse(socket, 404, 'NotFound', `pods "${pod}" not found`);
    const names = [...(obj.spec?.initContainers ?? []), ...(obj.spec?.containers ?? [])].map((c) => c.name);
    if (!names.includes(container))
      return refuse(socket, 400, 'BadRequest', `container ${container} is not valid for pod ${pod}`);
    const key = `${ns}/${pod}/${container}`;
    const failures = this.failures.get(key) ?? 0;
    if (failures > 0) {
      this.failures.set(key, failures - 1);
      return refuse(
        socket,
        500,
        'InternalError',
        `error dialing backend: dial tcp node:10250: connect: connection refused`,
      );
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const protocol = offered.find((p) => PROTOCOLS.includes(p));
    const wsKey = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || !wsKey || !protocol)
      return refuse(socket, 400, 'BadRequest', 'a WebSocket upgrade with a channel protocol is required');
    const command = query.getAll('command');
    this.calls.push({ ns, pod, container, command, query, protocol });

    // A client that goes mid-answer resets the connection; nothing to do but let it go.
    socket.on('error', () => socket.destroy());
    const open = this.connections.get(`${ns}/${pod}`) ?? new Set<Duplex>();
    this.connections.set(`${ns}/${pod}`, open.add(socket));
    socket.on('close', () => open.delete(socket));
    // The client went without a close frame (terminated): the server ends its side too.
    socket.on('end', () => socket.end());
    const accept = createHash('sha1').update(`${wsKey}${WS_GUID}`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
    // The client's close (after it read the status) is answered by ending the connection.
    readFrames(socket, (opcode) => {
      if (opcode === Opcode.close) socket.end();
    });
    const run =
      this.scripts.get(key) ?? ((): ExecResult => ({ stderr: `exec: "${command[0]}": not found\n`, exitCode: 127 }));
    const result = run(command);
    const send = (channel: number, data: string | Buffer) =>
      socket.write(frame(Opcode.binary, Buffer.concat([Buffer.from([channel]), Buffer.from(data)])));
    // Output arrives in pieces, as a process writes it.
    for (const [channel, text] of [
      [Channel.stdout, result.stdout],
      [Channel.stderr, result.stderr],
    ] as const) {
      const bytes = Buffer.from(text ?? '');
      for (let i = 0; i < bytes.length; i += 16 * 1024) send(channel, bytes.subarray(i, i + 16 * 1024));
    }
    if (result.hang) return;
    const exitCode = result.exitCode ?? 0;
    send(
      Channel.status,
      JSON.stringify(
        exitCode === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              reason: 'NonZeroExitCode',
              message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
              details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
            },
      ),
    );
    socket.write(frame(Opcode.close, Buffer.from([0x03, 0xe8]))); // 1000: normal closure
  }
}

/** An error answer instead of the upgrade, as the API server sends it (a Status in JSON). */
function refuse(socket: Duplex, code: number, reason: string, message: string): void {
  const body = JSON.stringify(statusBody(code, reason, message));
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** One unmasked server frame (FIN set). */
function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65_536) {
    head.writeUInt8(0x80 | opcode, 0);
    head.writeUInt8(126, 1);
    head.writeUInt16BE(n, 2);
  } else if (n >= 65_536) {
    head.writeUInt8(0x80 | opcode, 0);
    head.writeUInt8(127, 1);
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Reads the client's (masked) frames as they arrive and reports each one's opcode. */
function readFrames(socket: Duplex, onFrame: (opcode: number, payload: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      const mask = masked ? buf.subarray(at, at + 4) : undefined;
      if (mask) at += 4;
      if (buf.length < at + len) return;
      const payload = Buffer.from(buf.subarray(at, at + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
      buf = buf.subarray(at + len);
      onFrame(opcode, payload);
    }
  });
}
