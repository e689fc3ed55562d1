/**
 * Worker-to-worker link: a loopback UDP socket per worker that carries raw SIP messages to the
 * worker that owns them (shard.ts) and messages to be written on a connection another worker
 * holds. Datagrams keep the cost to one send and one receive, with no serialization beyond a
 * small header; the control plane (bindings, bans) goes over cluster IPC instead.
 *
 * Frame: kind(1) transport(1) port(2) addrLen(1) addr connLen(1) connId payload.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Peer, TransportName } from '../sip/message.ts';

const TRANSPORTS: readonly TransportName[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

/** An inbound message to process (source is where it came from), or one to send on a held connection. */
export type FrameKind = 'inbound' | 'send';

export interface Frame {
  kind: FrameKind;
  peer: Peer;
  payload: Buffer;
}

export function encodeFrame(f: Frame): Buffer {
  const addr = Buffer.from(f.peer.address, 'latin1');
  const conn = Buffer.from(f.peer.connectionId ?? '', 'latin1');
  const out = Buffer.allocUnsafe(6 + addr.length + conn.length + f.payload.length);
  out[0] = f.kind === 'inbound' ? 1 : 2;
  out[1] = TRANSPORTS.indexOf(f.peer.transport);
  out.writeUInt16BE(f.peer.port, 2);
  out[4] = addr.length;
  addr.copy(out, 5);
  out[5 + addr.length] = conn.length;
  conn.copy(out, 6 + addr.length);
  f.payload.copy(out, 6 + addr.length + conn.length);
  return out;
}

export function decodeFrame(buf: Buffer): Frame | undefined {
  if (buf.length < 6) return undefined;
  const kind = buf[0] === 1 ? 'inbound' : buf[0] === 2 ? 'send' : undefined;
  const transport = TRANSPORTS[buf[1]!];
  if (!kind || !transport) return undefined;
  const port = buf.readUInt16BE(2);
  const al = buf[4]!;
  if (buf.length < 6 + al) return undefined;
  const address = buf.toString('latin1', 5, 5 + al);
  const cl = buf[5 + al]!;
  if (buf.length < 6 + al + cl) return undefined;
  const connectionId = buf.toString('latin1', 6 + al, 6 + al + cl);
  return {
    kind,
    peer: { transport, address, port, ...(connectionId ? { connectionId } : {}) },
    payload: buf.subarray(6 + al + cl),
  };
}

/** The largest SIP message a frame can carry over loopback UDP. */
export const MAX_FRAME_PAYLOAD = 65507 - 300;

export class PeerLink {
  readonly #sock: Socket;
  readonly #ports: number[] = [];
  /** Frames to send at the end of this turn of the event loop, so the other worker wakes once per batch (see TransportLayer's UDP queue). */
  #out: { data: Buffer; port: number }[] = [];
  #onFrame: (f: Frame) => void = () => {};

  private constructor(sock: Socket) {
    this.#sock = sock;
    sock.on('message', (buf) => {
      const f = decodeFrame(buf);
      if (f) this.#onFrame(f);
    });
  }

  /** Bind this worker's link socket on loopback (exclusive: not shared through the cluster primary). */
  static async open(): Promise<PeerLink> {
    const sock = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: 0, address: '127.0.0.1', exclusive: true }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    try {
      sock.setRecvBufferSize(8 * 1024 * 1024);
      sock.setSendBufferSize(8 * 1024 * 1024);
    } catch {
      /* capped by the kernel: keep the default */
    }
    return new PeerLink(sock);
  }

  get port(): number {
    return this.#sock.address().port;
  }

  /** Ports of every worker's link, indexed by worker number. */
  setPeers(ports: readonly number[]): void {
    this.#ports.length = 0;
    this.#ports.push(...ports);
  }

  get ready(): boolean {
    return this.#ports.length > 0 && this.#ports.every((p) => p > 0);
  }

  onFrame(fn: (f: Frame) => void): void {
    this.#onFrame = fn;
  }

  send(worker: number, f: Frame): boolean {
    const port = this.#ports[worker];
    if (!port || f.payload.length > MAX_FRAME_PAYLOAD) return false;
    if (this.#out.push({ data: encodeFrame(f), port }) === 1) setImmediate(this.#flush);
    return true;
  }

  readonly #flush = (): void => {
    const out = this.#out;
    this.#out = [];
    for (const o of out) this.#sock.send(o.data, o.port, '127.0.0.1');
  };

  close(): void {
    this.#flush();
    this.#sock.close();
  }
}
