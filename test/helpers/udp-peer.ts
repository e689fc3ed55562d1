/**
 * A UDP socket on 127.0.0.1 that keeps every datagram it receives, for tests that play one end of
 * a media path (an RTP sender or receiver) and then check what arrived, and when.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface Datagram {
  data: Buffer;
  from: { address: string; port: number };
}

export class UdpPeer {
  readonly socket: Socket;
  readonly received: Datagram[] = [];
  #onMessage: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (data, rinfo) => {
      this.received.push({ data, from: { address: rinfo.address, port: rinfo.port } });
      for (const f of [...this.#onMessage]) f();
    });
  }

  static async bind(host = '127.0.0.1'): Promise<UdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, host, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Resolves with the first `count` received datagrams that match, counting those already
   * received; rejects after `timeoutMs` saying how many of what arrived.
   */
  waitFor(count: number, match: (d: Datagram) => boolean, what: string, timeoutMs = 3000): Promise<Datagram[]> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hits = this.received.filter(match);
        if (hits.length < count) return false;
        done();
        resolve(hits.slice(0, count));
        return true;
      };
      const timer = setTimeout(() => {
        done();
        const got = this.received.filter(match).length;
        reject(new Error(`only ${got} of ${count} ${what} arrived at 127.0.0.1:${this.port} within ${timeoutMs} ms ` +
          `(${this.received.length} datagrams in all)`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#onMessage = this.#onMessage.filter((f) => f !== onMessage);
      };
      const onMessage = (): void => void check();
      this.#onMessage.push(onMessage);
      check();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
