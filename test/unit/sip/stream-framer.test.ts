import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../server/src/sip/parser.ts';
import { StreamFramer, StreamFramingError, type Frame } from '../../../server/src/sip/stream-framer.ts';
import { esc01, intmeth, longreq, mpart01, wire, wsinv } from './rfc4475.fixtures.ts';

const OPTIONS = wire(`OPTIONS sip:bob@example.com SIP/2.0
Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1
To: <sip:bob@example.com>
From: <sip:alice@example.com>;tag=1
Call-ID: c1
CSeq: 1 OPTIONS
Content-Length: 0

`);
const MESSAGE_BODY = 'body with\r\n\r\nCRLFCRLF inside\r\n\r\n';
const MESSAGE = wire(`MESSAGE sip:bob@example.com SIP/2.0
Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK2
To: <sip:bob@example.com>
From: <sip:alice@example.com>;tag=1
Call-ID: c2
CSeq: 2 MESSAGE
l: ${MESSAGE_BODY.length}

${MESSAGE_BODY}`);
const RESPONSE = wire(`SIP/2.0 200 OK
Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1
To: <sip:bob@example.com>;tag=2
From: <sip:alice@example.com>;tag=1
Call-ID: c1
CSeq: 1 OPTIONS
Content-Length  :
 00000

`);
// RFC 4475 messages whose Content-Length matches their body (wsinv folds "Content-Length   : 150").
const STREAM_MESSAGES = [OPTIONS, MESSAGE, RESPONSE, wsinv, intmeth, esc01, longreq, mpart01];

const PING = Buffer.from('\r\n\r\n');
const PONG = Buffer.from('\r\n');

type Out = Buffer | 'ping' | 'pong';

function collect(frames: Frame[]): Out[] {
  return frames.map((f) => (f.kind === 'message' ? f.data : f.kind));
}

/** Feed `chunks` in order; return every frame as a Buffer or 'ping'/'pong'. */
function feed(chunks: Buffer[], framer = new StreamFramer()): Out[] {
  const out: Out[] = [];
  for (const c of chunks) out.push(...collect(framer.push(c)));
  return out;
}

/** Frames are equal when messages are equal byte for byte. */
function same(out: Out[], expected: Out[]): void {
  expect(out.map((o) => (Buffer.isBuffer(o) ? o.toString('latin1') : o))).toEqual(expected.map((o) => (Buffer.isBuffer(o) ? o.toString('latin1') : o)));
}

function fatal(chunks: Buffer[], limits?: ConstructorParameters<typeof StreamFramer>[0]): StreamFramingError {
  const framer = new StreamFramer(limits);
  try {
    for (const c of chunks) framer.push(c);
  } catch (err) {
    expect(err).toBeInstanceOf(StreamFramingError);
    return err as StreamFramingError;
  }
  throw new Error('expected a StreamFramingError');
}

describe('StreamFramer: framing by Content-Length (RFC 3261 §18.3)', () => {
  it.each(STREAM_MESSAGES.map((m, i) => [i, m] as const))('yields message #%i whole, in one push', (_i, msg) => {
    same(feed([msg]), [msg]);
  });

  it('yields messages glued together in one chunk, in order', () => {
    const all = Buffer.concat(STREAM_MESSAGES);
    same(feed([all]), STREAM_MESSAGES);
  });

  it('waits for the body', () => {
    const f = new StreamFramer();
    const cut = MESSAGE.length - 5;
    expect(f.push(MESSAGE.subarray(0, cut))).toEqual([]);
    expect(f.bufferedBytes).toBe(cut);
    same(collect(f.push(MESSAGE.subarray(cut))), [MESSAGE]);
    expect(f.bufferedBytes).toBe(0);
  });

  it.each(STREAM_MESSAGES.map((m, i) => [i, m] as const))('survives message #%i split at every byte boundary', (_i, msg) => {
    const stream = Buffer.concat([msg, OPTIONS]);
    for (let cut = 1; cut < stream.length; cut++) {
      same(feed([stream.subarray(0, cut), stream.subarray(cut)]), [msg, OPTIONS]);
    }
  });

  it('survives every pair of split points across two glued messages with keep-alives between', () => {
    const stream = Buffer.concat([MESSAGE, PING, RESPONSE]);
    for (let a = 1; a < stream.length; a += 3) {
      for (let b = a + 1; b < stream.length; b += 7) {
        const out = feed([stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        const messages = out.filter((o) => Buffer.isBuffer(o));
        same(messages, [MESSAGE, RESPONSE]);
        expect(out.filter((o) => o === 'ping').length).toBe(1);
      }
    }
  });

  it('handles a stream fed one byte at a time', () => {
    const stream = Buffer.concat([...STREAM_MESSAGES, PING]);
    const out = feed([...stream].map((b) => Buffer.from([b])));
    same(
      out.filter((o) => Buffer.isBuffer(o)),
      STREAM_MESSAGES,
    );
    expect(out.at(-1)).toBe('ping');
  });

  it('costs O(1) per byte when a peer drips one byte per segment', () => {
    const big = Buffer.concat([Buffer.from('MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 60000\r\n\r\n'), Buffer.alloc(60000, 0x61)]);
    const f = new StreamFramer();
    const frames: Frame[] = [];
    const t0 = performance.now();
    for (let p = 0; p < big.length; p++) frames.push(...f.push(big.subarray(p, p + 1)));
    // Copying everything pending on each push took ~0.5 s here; appending takes a few ms.
    expect(performance.now() - t0).toBeLessThan(250);
    same(collect(frames), [big]);
  });

  it('returns messages that stay intact when later chunks arrive', () => {
    const f = new StreamFramer();
    const first = collect(f.push(Buffer.concat([MESSAGE.subarray(0, 10)])));
    const second = collect(f.push(Buffer.concat([MESSAGE.subarray(10), OPTIONS.subarray(0, 20)])));
    const third = collect(f.push(Buffer.concat([OPTIONS.subarray(20), MESSAGE.subarray(0, 30)])));
    f.push(Buffer.concat([MESSAGE.subarray(30), RESPONSE]));
    same([...first, ...second, ...third], [MESSAGE, OPTIONS]);
  });

  it('handles random chunkings of a long stream (seeded)', () => {
    let seed = 0x5eed;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 1000) / 1000;
    const stream = Buffer.concat([...STREAM_MESSAGES, ...STREAM_MESSAGES]);
    for (let run = 0; run < 50; run++) {
      const chunks: Buffer[] = [];
      for (let p = 0; p < stream.length; ) {
        const n = 1 + Math.floor(rnd() * 700);
        chunks.push(stream.subarray(p, p + n));
        p += n;
      }
      same(feed(chunks), [...STREAM_MESSAGES, ...STREAM_MESSAGES]);
    }
  });

  it('yields buffers the parser accepts', () => {
    for (const out of feed([Buffer.concat(STREAM_MESSAGES)])) {
      expect(() => parseMessage(out as Buffer)).not.toThrow();
    }
  });

  it('ignores empty chunks', () => {
    const f = new StreamFramer();
    expect(f.push(Buffer.alloc(0))).toEqual([]);
    same(collect(f.push(OPTIONS)), [OPTIONS]);
  });

  it.each([
    ['content-length: 5', 5],
    ['CONTENT-LENGTH:5', 5],
    ['L : 5', 5],
    ['Content-Length: 0005', 5],
    ['Content-Length:\r\n\t5', 5],
    ['Content-Length: 5 ', 5],
  ])('reads %j', (line, n) => {
    const msg = Buffer.from(`OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n${line}\r\n\r\n${'x'.repeat(n)}`);
    same(feed([Buffer.concat([msg, OPTIONS])]), [msg, OPTIONS]);
  });

  it('is not fooled by Content-Length inside another header value or a folded line', () => {
    const msg = Buffer.from('OPTIONS sip:b@example.com SIP/2.0\r\nSubject: Content-Length: 99\r\nX-A: a\r\n Content-Length: 99\r\nl: 2\r\n\r\nok');
    same(feed([Buffer.concat([msg, OPTIONS])]), [msg, OPTIONS]);
  });
});

describe('StreamFramer: CRLF keep-alives (RFC 5626 §3.5.1, §4.4.1; RFC 3261 §7.5)', () => {
  it('reports a double CRLF as a ping and a single CRLF as a pong', () => {
    same(feed([PING]), ['ping']);
    same(feed([PONG]), ['pong']);
    same(feed([Buffer.from('\r\n\r\n\r\n')]), ['ping', 'pong']);
    same(feed([Buffer.from('\r\n\r\n\r\n\r\n')]), ['ping', 'ping']);
  });

  it('reports keep-alives between and before messages', () => {
    same(feed([Buffer.concat([PING, OPTIONS, PING, PING, MESSAGE, PONG, RESPONSE])]), ['ping', OPTIONS, 'ping', 'ping', MESSAGE, 'pong', RESPONSE]);
  });

  it('reports a ping split over two reads as pong then ping', () => {
    const f = new StreamFramer();
    same(collect(f.push(PONG)), ['pong']);
    same(collect(f.push(Buffer.concat([PONG, OPTIONS]))), ['ping', OPTIONS]);
  });

  it('waits on a lone CR that may start a CRLF', () => {
    const f = new StreamFramer();
    same(collect(f.push(Buffer.from('\r'))), []);
    same(collect(f.push(Buffer.from('\n\r'))), ['pong']);
    same(collect(f.push(Buffer.from('\n'))), ['ping']);
  });

  it('keeps pings within a message body as body', () => {
    same(feed([MESSAGE]), [MESSAGE]);
  });

  it('does not buffer keep-alives', () => {
    const f = new StreamFramer();
    for (let i = 0; i < 1000; i++) f.push(PING);
    expect(f.bufferedBytes).toBe(0);
  });
});

describe('StreamFramer: fatal framing errors (RFC 3261 §18.3: Content-Length is mandatory on streams)', () => {
  const head = 'OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n';
  it.each([
    ['', 'Missing Content-Length'],
    ['Content-Length: -1\r\n', 'Bad Content-Length'],
    ['Content-Length: abc\r\n', 'Bad Content-Length'],
    ['Content-Length: \r\n', 'Bad Content-Length'],
    ['Content-Length: 1 2\r\n', 'Bad Content-Length'],
    ['Content-Length: 99999999999\r\n', 'Bad Content-Length'],
    ['Content-Length: 5\r\nl: 5\r\n', 'Multiple Content-Length'],
    ['Content-Length: 100000\r\n', 'Message Too Large'],
  ])('%j → %s', (cl, reason) => {
    const section = Buffer.from(`${head}${cl}\r\n`);
    const e = fatal([section]);
    expect(e.reason).toBe(reason);
    expect(e.headerSection?.equals(section)).toBe(true);
  });

  it('refuses a start line without headers (no Content-Length either)', () => {
    expect(fatal([Buffer.from('OPTIONS sip:b@example.com SIP/2.0\r\n\r\n')]).reason).toBe('Missing Content-Length');
  });

  it('refuses a header section that never ends', () => {
    const e = fatal([Buffer.from(head), Buffer.alloc(40000, 0x61)]);
    expect(e.reason).toBe('Header Section Too Large');
    expect(e.headerSection).toBeUndefined();
  });

  it('refuses a header section over maxHeaderBytes even when complete', () => {
    const msg = Buffer.from(`${head}X: ${'a'.repeat(200)}\r\nContent-Length: 0\r\n\r\n`);
    expect(fatal([msg], { maxHeaderBytes: 100 }).reason).toBe('Header Section Too Large');
    same(feed([msg], new StreamFramer({ maxHeaderBytes: msg.length })), [msg]);
  });

  it('honours maxMessageBytes for header plus body', () => {
    expect(fatal([MESSAGE], { maxMessageBytes: MESSAGE.length - 1 }).reason).toBe('Message Too Large');
    same(feed([MESSAGE], new StreamFramer({ maxMessageBytes: MESSAGE.length })), [MESSAGE]);
  });

  it('never holds more than maxMessageBytes of an incomplete message', () => {
    const f = new StreamFramer({ maxMessageBytes: 1000 });
    f.push(Buffer.from(`${head}Content-Length: 900\r\n\r\n`));
    f.push(Buffer.alloc(800, 0x62));
    expect(f.bufferedBytes).toBeLessThanOrEqual(1000);
    expect(() => new StreamFramer({ maxMessageBytes: 1000 }).push(Buffer.from(`${head}Content-Length: 1000\r\n\r\n`))).toThrow(StreamFramingError);
  });

  it('hands over the frames completed before the error, and stays failed', () => {
    const f = new StreamFramer();
    let err: StreamFramingError | undefined;
    try {
      f.push(Buffer.concat([PING, OPTIONS, Buffer.from(`${head}\r\n`)]));
    } catch (e) {
      err = e as StreamFramingError;
    }
    expect(err).toBeInstanceOf(StreamFramingError);
    same(collect(err!.frames), ['ping', OPTIONS]);
    expect(() => f.push(OPTIONS)).toThrow(err!);
    expect(f.bufferedBytes).toBe(0);
  });
});
