/**
 * Thousands of random and mutated messages over UDP, TCP and WS must not crash the server, make
 * it stop answering, or make its memory grow without bound (RFC 3261 §18.3: a stream that loses
 * framing is closed; a malformed datagram is answered 400 when possible, else dropped).
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const BASE = 26060;
let server: TestServer;

/** Seeded PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = [
  'REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-g1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=a1\r\nTo: <sip:alice@localhost>\r\nCall-ID: g1@x\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:5999>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n',
  'INVITE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-g2\r\nMax-Forwards: 70\r\nFrom: "A" <sip:alice@localhost>;tag=a2\r\nTo: <sip:bob@localhost>\r\nCall-ID: g2@x\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\nContent-Length: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n',
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-g3\r\nFrom: <sip:a@localhost>;tag=1\r\nTo: <sip:b@localhost>;tag=2\r\nCall-ID: g3@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
  'OPTIONS sip:localhost SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-g4\r\nf: <sip:a@localhost>;tag=1\r\nt: <sip:localhost>\r\ni: g4@x\r\nCSeq: 7 OPTIONS\r\nl: 0\r\n\r\n',
];

function mutate(r: () => number, base: string): Buffer {
  const b = Buffer.from(base);
  const kind = Math.floor(r() * 6);
  const pos = Math.floor(r() * b.length);
  switch (kind) {
    case 0: // random bytes overwrite
      for (let i = 0; i < 1 + r() * 8; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      return b;
    case 1: // truncate
      return b.subarray(0, pos);
    case 2: // duplicate a slice
      return Buffer.concat([b.subarray(0, pos), b.subarray(Math.floor(r() * b.length)), b.subarray(pos)]);
    case 3: // pure noise
      return Buffer.from(Array.from({ length: Math.floor(r() * 1500) }, () => Math.floor(r() * 256)));
    case 4: // huge header value
      return Buffer.from(base.replace('Max-Forwards: 70', `X-Big: ${'a'.repeat(Math.floor(r() * 20000))}`));
    default: // flip CRLFs and colons
      return Buffer.from(base.replace(/\r\n/g, r() < 0.5 ? '\n' : '\r').replace(/:/, r() < 0.5 ? '' : '::'));
  }
}

function garbage(seed: number, n: number): Buffer[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => mutate(r, VALID[Math.floor(r() * VALID.length)]!));
}

/** Send a valid OPTIONS over UDP and wait for its 200. */
async function optionsAnswered(port: number): Promise<string> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const me = sock.address().port;
  const msg =
    `OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-ok${Date.now()}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:probe@localhost>;tag=p\r\nTo: <sip:localhost>\r\nCall-ID: probe-${Date.now()}@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  try {
    return await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer to OPTIONS')), 3000);
      sock.on('message', (m) => {
        clearTimeout(t);
        resolve(m.toString().split('\r\n')[0]!);
      });
      sock.send(msg, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

beforeAll(async () => {
  server = await startTestServer({ basePort: BASE, users: { alice: 'alice-secret-1' } });
});
afterAll(async () => {
  await server?.stop();
});

describe('garbage input (RFC 3261 §18.3, RFC 7118 §5)', () => {
  it('answers a malformed but answerable request with 400 and a reason', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const bad = VALID[0]!.replace('CSeq: 1 REGISTER', 'CSeq: one REGISTER').replace('5999', String(sock.address().port));
    const first = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no 400')), 3000);
      sock.on('message', (m) => {
        clearTimeout(t);
        resolve(m.toString().split('\r\n')[0]!);
      });
      sock.send(bad, BASE, '127.0.0.1');
    });
    sock.close();
    expect(first).toMatch(/^SIP\/2\.0 400 \S/);
  });

  it('survives thousands of mutated messages over UDP, TCP and WS and keeps answering', async () => {
    const before = await optionsAnswered(BASE);
    expect(before).toBe('SIP/2.0 200 OK');
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;

    for (let round = 0; round < 3; round++) {
      // UDP: 3,000 datagrams.
      const udp = createSocket('udp4');
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
      for (const m of garbage(1000 + round, 3000)) udp.send(m.subarray(0, 65000), BASE, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 200));
      udp.close();

      // TCP: 20 connections, each fed 100 messages back to back.
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          new Promise<void>((resolve) => {
            const c = connect(BASE, '127.0.0.1', () => {
              for (const m of garbage(2000 + round * 100 + i, 100)) c.write(m);
              c.end();
            });
            c.on('error', () => resolve());
            c.on('close', () => resolve());
            c.resume();
          }),
        ),
      );

      // WS: 10 connections, 100 frames each.
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(`ws://127.0.0.1:${BASE + 2}`, 'sip');
            ws.on('open', () => {
              for (const m of garbage(3000 + round * 100 + i, 100)) ws.send(m);
              ws.close();
            });
            ws.on('error', () => resolve());
            ws.on('close', () => resolve());
          }),
        ),
      );
    }

    expect(await optionsAnswered(BASE)).toBe('SIP/2.0 200 OK');
    await new Promise((r) => setTimeout(r, 500));
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - heapBefore;
    // Transactions created by valid-looking leftovers live for Timer J/H (32 s); the bound is
    // generous for those but far below what keeping every message (tens of MB) would cost.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect(server.sip.metrics().sotto_sip_parse_errors_total).toBeGreaterThan(1000);
    expect(server.sip.metrics().sotto_sip_connections).toBe(0);
  });

  it('refuses a WebSocket without the "sip" subprotocol (RFC 7118 §4)', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${BASE + 2}`, 'chat');
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(400);
  });
});
