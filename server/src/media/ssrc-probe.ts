/**
 * Learning a phone's SSRC from its first RTP packet, for phones whose SDP does not name it.
 *
 * mediasoup 3.12 hands a received RTP packet to a Producer only by SSRC, MID or RID
 * (worker/src/RTC/RtpListener.cpp); a desk phone sends none of the header extensions, and many do
 * not write a=ssrc (RFC 5576) either. So for such a phone the bridge briefly takes the port itself:
 * the PlainTransport is closed, a Node socket listens on the same port until the first RTP packet
 * (RFC 3550 §5.1: the SSRC is bytes 8-11 of the fixed header), and a new PlainTransport takes the
 * port back, with a Producer for that SSRC. The phone keeps sending to the address it was given and
 * loses at most the packets of those few milliseconds.
 *
 * The new PlainTransport gets a new RTCP port (mediasoup 3.12 cannot be told which), while the
 * phone keeps sending RTCP to the port in our SDP. An RtcpRelay keeps that port and passes RTCP
 * both ways between the phone and the transport (a few packets every five seconds, RFC 3550 §6.2).
 *
 * Plain RTP only: a replaced transport would have a new SRTP key, which the phone never learns
 * (it is in the SDP already sent, and mediasoup 3.12 takes no local key).
 */
import { createSocket, type Socket } from 'node:dgram';

export interface ProbeResult {
  ssrc: number;
  address: string;
  port: number;
}

/** RFC 5761 §4: RTCP packet types 192-223 occupy what would be RTP payload types 64-95. */
export function isRtcp(b: Buffer): boolean {
  return b.length >= 2 && (b[1]! & 0x7f) >= 64 && (b[1]! & 0x7f) <= 95;
}

/** The SSRC of an RTP packet (version 2, not RTCP), or undefined. */
export function rtpSsrc(b: Buffer): number | undefined {
  if (b.length < 12 || b[0]! >> 6 !== 2 || isRtcp(b)) return undefined;
  return b.readUInt32BE(8);
}

/**
 * Bind a UDP socket on ip:port, retrying while the port is still held (a closed mediasoup
 * transport releases its socket a moment later, in the worker).
 */
export async function bindUdp(ip: string, port: number, attempts = 50): Promise<Socket> {
  for (let i = 0; ; i++) {
    const socket = createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, ip, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return socket;
    } catch (err) {
      socket.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Wait on `socket` for the first RTP packet; rejects when `signal` aborts. */
export function firstRtp(socket: Socket, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (b: Buffer, rinfo: { address: string; port: number }) => {
      const ssrc = rtpSsrc(b);
      if (ssrc === undefined) return;
      done();
      resolve({ ssrc, address: rinfo.address, port: rinfo.port });
    };
    const onAbort = () => {
      done();
      reject(new Error('SSRC probe stopped'));
    };
    const done = () => {
      socket.off('message', onMessage);
      signal.removeEventListener('abort', onAbort);
    };
    if (signal.aborted) return onAbort();
    socket.on('message', onMessage);
    signal.addEventListener('abort', onAbort);
  });
}

/**
 * Passes RTCP between a phone and a PlainTransport: what arrives from anywhere but the transport
 * goes to the transport (which learns this socket as its RTCP peer, comedia), what comes from the
 * transport goes to the phone's RTCP address (where its RTCP comes from, else the one in its SDP).
 */
export class RtcpRelay {
  readonly #socket: Socket;
  readonly #transport: { address: string; port: number };
  #phone: { address: string; port: number } | undefined;

  constructor(socket: Socket, transport: { address: string; port: number }, phone: { address: string; port: number } | undefined) {
    this.#socket = socket;
    this.#transport = transport;
    this.#phone = phone;
    socket.on('message', (b, rinfo) => {
      if (rinfo.port === transport.port && rinfo.address === transport.address) {
        if (this.#phone) socket.send(b, this.#phone.port, this.#phone.address);
        return;
      }
      this.#phone = { address: rinfo.address, port: rinfo.port };
      socket.send(b, transport.port, transport.address);
    });
    socket.on('error', () => undefined);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  close(): void {
    try {
      this.#socket.close();
    } catch {
      /* already closed */
    }
  }
}
