/**
 * Transport behaviour (RFC 3261 §18, RFC 5626 §3.5 and §5, RFC 7118): TLS, requests down the
 * connection a client registered on, CRLF and STUN keep-alives, Content-Length framing on streams.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawUa } from '../helpers/raw-ua.ts';
import { ROOT, startTestServer, type TestServer } from '../helpers/server.ts';

const PORT = 29060;
const USERS = { alice: 'alice-secret-1', dave: 'dave-secret-44' };
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ basePort: PORT, users: USERS });
});
afterAll(async () => {
  await server?.stop();
});

/** Collects SIP messages from a stream by Content-Length, as §18.3 frames them. */
class StreamReader {
  #buf = '';
  #waiters: ((m: string) => void)[] = [];
  readonly messages: string[] = [];
  raw = '';
  constructor(sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.raw += d;
      this.#buf += d;
      for (;;) {
        this.#buf = this.#buf.replace(/^(\r\n)+/, '');
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const len = Number(/\r\nContent-Length:\s*(\d+)/i.exec(this.#buf.slice(0, end))?.[1] ?? 0);
        if (this.#buf.length < end + 4 + len) break;
        const msg = this.#buf.slice(0, end + 4 + len);
        this.#buf = this.#buf.slice(end + 4 + len);
        const w = this.#waiters.shift();
        if (w) w(msg);
        else this.messages.push(msg);
      }
    });
  }
  next(ms = 3000): Promise<string> {
    const m = this.messages.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message on the stream')), ms);
      this.#waiters.push((x) => (clearTimeout(t), resolve(x)));
    });
  }
}

function header(msg: string, name: string): string | undefined {
  return new RegExp(`\\r\\n${name}:\\s*([^\\r]*)`, 'i').exec(msg)?.[1];
}

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

/** REGISTER over a stream with digest auth (MD5 challenge); returns the final response. */
async function registerOver(sock: Socket, reader: StreamReader, user: string, password: string, transport: string, contact: string): Promise<string> {
  const callId = `s-${randomBytes(4).toString('hex')}`;
  const msg = (cseq: number, auth = '') =>
    `REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/${transport} 127.0.0.1:9;branch=z9hG4bK${randomBytes(5).toString('hex')}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:${user}@localhost>;tag=t1\r\nTo: <sip:${user}@localhost>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\n` +
    `Contact: ${contact}\r\nExpires: 600\r\n${auth}Content-Length: 0\r\n\r\n`;
  sock.write(msg(1));
  const challenge = await reader.next();
  expect(challenge).toMatch(/^SIP\/2\.0 401/);
  const www = header(challenge, 'WWW-Authenticate')!;
  const nonce = /nonce="([^"]+)"/.exec(www)![1]!;
  const opaque = /opaque="([^"]+)"/.exec(www)?.[1];
  const ha1 = md5(`${user}:localhost:${password}`);
  const response = md5(`${ha1}:${nonce}:00000001:abc:auth:${md5('REGISTER:sip:localhost')}`);
  sock.write(
    msg(
      2,
      `Authorization: Digest username="${user}", realm="localhost", nonce="${nonce}", uri="sip:localhost", response="${response}", ` +
        `algorithm=MD5, qop=auth, nc=00000001, cnonce="abc"${opaque ? `, opaque="${opaque}"` : ''}\r\n`,
    ),
  );
  return reader.next();
}

describe('streams: TCP and TLS (RFC 3261 §18.3)', () => {
  it('registers over TLS and answers on the same connection', async () => {
    const ca = readFileSync(join(ROOT, 'var/tls/localhost.crt'));
    const sock = tlsConnect({ host: '127.0.0.1', port: PORT + 1, servername: 'localhost', ca });
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    const reader = new StreamReader(sock);
    const res = await registerOver(sock, reader, 'alice', USERS.alice, 'TLS', '<sip:alice@127.0.0.1:9;transport=tls>');
    expect(res).toMatch(/^SIP\/2\.0 200/);
    expect(server.sip.location.lookup('alice')[0]!.flow?.transport).toBe('tls');
    sock.destroy();
  });

  it('sends a request for a TCP-registered user down the connection it registered on', async () => {
    const sock = tcpConnect(PORT, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const reader = new StreamReader(sock);
    // The Contact names a port nobody listens on: only the registration's connection reaches dave.
    const res = await registerOver(sock, reader, 'dave', USERS.dave, 'TCP', '<sip:dave@127.0.0.1:1;transport=tcp>');
    expect(res).toMatch(/^SIP\/2\.0 200/);

    const alice = await new RawUa('alice', USERS.alice).bind();
    const callId = `c-${randomBytes(4).toString('hex')}`;
    const inv = (cseq: number, auth = '') =>
      `INVITE sip:dave@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${alice.port};branch=z9hG4bK${randomBytes(5).toString('hex')};rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=a\r\nTo: <sip:dave@localhost>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} INVITE\r\n` +
      `Contact: <sip:alice@127.0.0.1:${alice.port}>\r\n${auth}Content-Length: 0\r\n\r\n`;
    alice.send(inv(1), PORT);
    const ch = await alice.next((m) => m.status === 407);
    alice.send(
      `ACK sip:dave@localhost SIP/2.0\r\nVia: ${ch.header('via')}\r\nMax-Forwards: 70\r\nFrom: ${ch.header('from')}\r\nTo: ${ch.header('to')}\r\nCall-ID: ${callId}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
      PORT,
    );
    alice.send(inv(2, `Proxy-Authorization: ${alice.answer(ch.header('proxy-authenticate')!, 'INVITE', 'sip:dave@localhost')}\r\n`), PORT);
    const got = await reader.next();
    expect(got).toMatch(/^INVITE sip:dave@127\.0\.0\.1:1;transport=tcp SIP\/2\.0/);
    // §18.2.1: the proxy's Via names TCP; the caller's keeps received/rport for the way back.
    expect(got).toMatch(new RegExp(`\\r\\nVia: SIP/2\\.0/TCP 127\\.0\\.0\\.1:${PORT};branch=z9hG4bK`));
    // The transport changes (UDP to TCP): two Record-Route entries, the one facing dave on top,
    // each carrying the flow token of its side (RFC 5658, RFC 5626 §5.3).
    const rr = [...got.matchAll(/\r\nRecord-Route:\s*([^\r]*)/gi)].map((m) => m[1]);
    expect(rr).toHaveLength(2);
    expect(rr[0]).toMatch(/^<sip:[A-Za-z0-9_-]+@127\.0\.0\.1:\d+;transport=tcp;lr>$/);
    expect(rr[1]).toMatch(/^<sip:[A-Za-z0-9_-]+@127\.0\.0\.1:\d+;transport=udp;lr>$/);
    alice.close();
    sock.destroy();
  });

  it('answers a CRLF CRLF ping with a CRLF pong (RFC 5626 §3.5.1)', async () => {
    const sock = tcpConnect(PORT, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let got = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (got += d));
    sock.write('\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toBe('\r\n');
    sock.destroy();
  });

  it('closes a stream whose Content-Length is missing (mandatory on streams, §20.14)', async () => {
    const sock = tcpConnect(PORT, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => {});
    sock.resume();
    sock.write('OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:localhost>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n');
    await closed;
  });
});

describe('UDP keep-alives (RFC 5626 §4.4.1)', () => {
  it('answers a STUN Binding request with the sender\'s address (RFC 5389 XOR-MAPPED-ADDRESS)', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const req = Buffer.alloc(20);
    req.writeUInt16BE(0x0001, 0);
    req.writeUInt32BE(0x2112a442, 4);
    randomBytes(12).copy(req, 8);
    const res = await new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no STUN answer')), 2000);
      sock.on('message', (m) => (clearTimeout(t), resolve(m)));
      sock.send(req, PORT, '127.0.0.1');
    });
    expect(res.readUInt16BE(0)).toBe(0x0101);
    expect(res.subarray(8, 20).equals(req.subarray(8, 20))).toBe(true);
    expect(res.readUInt16BE(20)).toBe(0x0020);
    const port = res.readUInt16BE(26) ^ 0x2112;
    const ip = [0, 1, 2, 3].map((i) => res[28 + i]! ^ [0x21, 0x12, 0xa4, 0x42][i]!).join('.');
    expect(`${ip}:${port}`).toBe(`127.0.0.1:${sock.address().port}`);
    sock.close();
  });
});
