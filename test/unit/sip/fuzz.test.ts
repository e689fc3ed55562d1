/**
 * Robustness: the parser must turn any input into a message or a SipParseError, never another
 * exception, a hang or a message the serializer cannot write back (RFC 3261 §18.3 / RFC 4475 §1:
 * "an element must not crash"). Inputs come from a seeded PRNG so failures are reproducible.
 */
import { describe, expect, it } from 'vitest';
import type { SipMessage } from '../../../server/src/sip/message.ts';
import { parseMessage, SipParseError } from '../../../server/src/sip/parser.ts';
import { createResponse } from '../../../server/src/sip/response.ts';
import { serializeMessage } from '../../../server/src/sip/serializer.ts';
import { StreamFramer, StreamFramingError } from '../../../server/src/sip/stream-framer.ts';
import { ACCEPTED, REFUSED } from './rfc4475.fixtures.ts';

/** mulberry32: small, fast, good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CORPUS: Buffer[] = [...Object.values(ACCEPTED), ...Object.values(REFUSED)];

/** Fragments that sit on the parser's decision points. */
const SPECIAL = [
  '\r\n', '\r', '\n', ' ', '\t', ':', ';', ',', '"', '\\', '<', '>', '%', '%0', '%00', '@', '=', '[', ']', '?', '&', '*',
  '\r\n ', '\r\n\t', '\r\n\r\n', '\0', '\xff', '\u00e9', '\ufffd', 'SIP/2.0', 'SIP/7.0', ' SIP/2.0', 'sip:', 'sips:', 'tel:',
  'Content-Length: ', 'l: 99999', 'l: -1', 'Content-Length: 0\r\n', 'Via: SIP/2.0/UDP ', 'v: SIP/2.0/TCP [::1]', ';branch=',
  'CSeq: 1 ', 'Call-ID: ', 'From: "', 'To: <', 'Max-Forwards: 256', 'tag=', '[2001:db8::1]', '4294967296', '0000000000000001',
];

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

function int(rnd: () => number, n: number): number {
  return Math.floor(rnd() * n);
}

/** Apply one to four random edits. */
function mutate(src: Buffer, rnd: () => number): Buffer {
  let b = Buffer.from(src);
  const edits = 1 + int(rnd, 4);
  for (let e = 0; e < edits; e++) {
    const at = int(rnd, b.length + 1);
    switch (int(rnd, 10)) {
      case 0: // random byte
        if (b.length) b[Math.min(at, b.length - 1)] = int(rnd, 256);
        break;
      case 1: // printable byte
        if (b.length) b[Math.min(at, b.length - 1)] = 0x20 + int(rnd, 95);
        break;
      case 2: // insert a special fragment
        b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(rnd, SPECIAL)), b.subarray(at)]);
        break;
      case 3: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rnd, 20))]);
        break;
      case 4: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + int(rnd, 40)), b.subarray(at)]);
        break;
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: {
        // swap two lines
        const lines = b.toString('latin1').split('\r\n');
        const i = int(rnd, lines.length);
        const j = int(rnd, lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        b = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 7: {
        // repeat a line many times (limits)
        const lines = b.toString('latin1').split('\r\n');
        const i = 1 + int(rnd, Math.max(1, lines.length - 1));
        lines.splice(i, 0, ...new Array<string>(int(rnd, 150)).fill(lines[i] ?? 'X: y'));
        b = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 8: {
        // replace a digit run with an odd number
        const s = b.toString('latin1');
        const m = /\d+/g;
        m.lastIndex = at;
        const hit = m.exec(s);
        if (hit) b = Buffer.from(s.slice(0, hit.index) + pick(rnd, ['0', '-1', '99999999999999999999', '256', '65536', '000']) + s.slice(hit.index + hit[0].length), 'latin1');
        break;
      }
      default: // bare LF for CRLF or the reverse
        b = Buffer.from(b.toString('latin1').replace(rnd() < 0.5 ? '\r\n' : '\n', rnd() < 0.5 ? '\n' : '\r'), 'latin1');
    }
  }
  return b;
}

const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'NOTIFY', "X-!%*_+`'~.m"];
const HOSTS = ['example.com', 'a.b-c.example', '192.0.2.1', '[2001:db8::1]', '[::ffff:10.0.0.1]', 'h'];
const TOKEN_CHARS = "abcXYZ019-.!%*_+`'~";
const TEXT_CHARS = ' abc:;,/?@&=+$[]<>{}()"\\\t%é☎';

/**
 * A random message built from valid parts (method, URIs, Via stacks, name-addrs with quoted and
 * token display names, unknown headers, compact names, folding, odd case, a body), then, half
 * the time, damaged with one fragment from SPECIAL.
 */
function randomMessage(rnd: () => number): Buffer {
  const str = (chars: string, min: number, max: number) => {
    let s = '';
    for (let i = min + int(rnd, max - min + 1); i > 0; i--) s += chars[int(rnd, chars.length)];
    return s;
  };
  const token = () => str(TOKEN_CHARS, 1, 8);
  const params = () => {
    let s = '';
    for (let i = int(rnd, 3); i > 0; i--) s += `;${token()}${rnd() < 0.5 ? '' : `=${rnd() < 0.7 ? token() : `"${str(' abc;,<>é', 0, 6)}"`}`}`;
    return s;
  };
  const uri = () => `${pick(rnd, ['sip', 'sips'])}:${rnd() < 0.7 ? `${str('abc%20-_.!~*()&=+$,;?/', 1, 8).replace(/%(?!20)/g, '')}@` : ''}${pick(rnd, HOSTS)}${rnd() < 0.3 ? `:${int(rnd, 65536)}` : ''}${rnd() < 0.5 ? ';lr' : ''}`;
  const nameAddr = () => {
    const dn = rnd() < 0.3 ? '' : rnd() < 0.5 ? `"${str(' abc\u00e9"\\', 0, 6).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}" ` : `${token()} ${token()} `;
    return rnd() < 0.2 ? `${uri().replace(/;lr$/, '')}` : `${dn}<${uri()}>`;
  };
  const via = () => `SIP/2.0/${pick(rnd, ['UDP', 'TCP', 'TLS', 'WS', 'wss'])} ${pick(rnd, HOSTS)}${rnd() < 0.5 ? `:${int(rnd, 65536)}` : ''};branch=z9hG4bK${token()}${rnd() < 0.5 ? ';rport' : ''}`;
  const name = (full: string, compact?: string) => {
    const n = compact && rnd() < 0.3 ? compact : full;
    return rnd() < 0.2 ? n.toUpperCase() : rnd() < 0.2 ? n.toLowerCase() : n;
  };
  const response = rnd() < 0.25;
  const method = pick(rnd, METHODS);
  const lines: string[] = [response ? `SIP/2.0 ${100 + int(rnd, 600)} ${str(TEXT_CHARS, 0, 12)}` : `${method} ${uri()} SIP/2.0`];
  const fields: string[] = [
    `${name('Via', 'v')}: ${via()}${rnd() < 0.3 ? `, ${via()}` : ''}`,
    `${name('From', 'f')}: ${nameAddr()};tag=${token()}`,
    `${name('To', 't')}: ${nameAddr()}${params()}`,
    `${name('Call-ID', 'i')}: ${str('abc123-.!%*_+`\'~()<>:\\"/[]?{}', 1, 12)}${rnd() < 0.5 ? `@${pick(rnd, HOSTS)}` : ''}`,
    `${name('CSeq')}: ${int(rnd, 2 ** 32)} ${response ? pick(rnd, METHODS) : method}`,
  ];
  if (!response && rnd() < 0.8) fields.push(`${name('Max-Forwards')}: ${int(rnd, 256)}`);
  for (let i = int(rnd, 5); i > 0; i--) fields.push(`${rnd() < 0.5 ? `X-${token()}` : pick(rnd, ['Subject', 's', 'Supported', 'k', 'Route', 'Contact', 'm', 'User-Agent'])}:${str(' \t', 0, 2)}${str(TEXT_CHARS, 0, 20).trim()}`);
  for (let i = fields.length - 1; i > 0; i--) {
    const j = int(rnd, i + 1);
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  // Fold some values at a space (§7.3.1).
  for (const f of fields) lines.push(rnd() < 0.15 ? f.replace(' ', pick(rnd, ['\r\n ', '\r\n\t', ' \r\n  '])) : f);
  const body = rnd() < 0.5 ? '' : str(TEXT_CHARS + '\r\n', 1, 40);
  if (body || rnd() < 0.5) lines.push(`${name('Content-Length', 'l')}: ${Buffer.byteLength(body)}`);
  let text = `${lines.join('\r\n')}\r\n\r\n${body}`;
  if (rnd() < 0.5) {
    const at = int(rnd, text.length);
    text = text.slice(0, at) + pick(rnd, SPECIAL) + text.slice(at);
  }
  return Buffer.from(text, 'utf8');
}

function randomBytes(rnd: () => number): Buffer {
  const b = Buffer.alloc(int(rnd, 600));
  for (let i = 0; i < b.length; i++) b[i] = rnd() < 0.8 ? 0x20 + int(rnd, 95) : int(rnd, 256);
  return b;
}

function shape(m: SipMessage) {
  const { headers, body, ...line } = m;
  return { line, headers: headers.filter((h) => h.name !== 'Content-Length'), body: body.toString('latin1') };
}

interface Stats {
  parsed: number;
  refused: number;
  answerable: number;
  slowest: number;
  problems: string[];
}

/**
 * Time one parse. A slow-looking run is timed again three times and the best run counts, so a GC
 * pause or a busy machine does not pass for a pathological input; a real one is slow every time.
 */
function timeParse(buf: Buffer, first: number, stats: Stats): void {
  let best = first;
  if (first > 10) {
    for (let k = 0; k < 3; k++) {
      const t = performance.now();
      try {
        parseMessage(buf);
      } catch {
        /* timing only */
      }
      best = Math.min(best, performance.now() - t);
    }
  }
  stats.slowest = Math.max(stats.slowest, best);
}

/** Parse one input and check every promise the parser makes; record problems instead of throwing. */
function check(buf: Buffer, stats: Stats): void {
  const t0 = performance.now();
  let msg: SipMessage;
  try {
    msg = parseMessage(buf);
  } catch (err) {
    timeParse(buf, performance.now() - t0, stats);
    if (!(err instanceof SipParseError)) {
      stats.problems.push(`non-SipParseError ${String(err)} for ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`);
      return;
    }
    stats.refused++;
    if (err.reason === 'Malformed Message') stats.problems.push(`internal error (${String(err.cause)}) for ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`);
    if (![400, 505, 513].includes(err.status)) stats.problems.push(`status ${err.status}`);
    if (!/^[A-Za-z][A-Za-z -]*$/.test(err.reason)) stats.problems.push(`odd reason ${JSON.stringify(err.reason)}`);
    if (err.partial) {
      stats.answerable++;
      try {
        // What the transport does with it: the answer must be writable.
        serializeMessage(createResponse(err.partial, err.status, { reason: err.reason }));
      } catch (e) {
        stats.problems.push(`cannot answer: ${String(e)} for ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`);
      }
    }
    return;
  }
  timeParse(buf, performance.now() - t0, stats);
  stats.parsed++;
  try {
    const again = parseMessage(serializeMessage(msg));
    expect(shape(again)).toEqual(shape(msg));
  } catch (e) {
    stats.problems.push(`round trip failed: ${String(e).slice(0, 500)} for ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`);
  }
}

function newStats(): Stats {
  return { parsed: 0, refused: 0, answerable: 0, slowest: 0, problems: [] };
}

describe('fuzz: parseMessage throws only SipParseError (RFC 4475 §1, seeded)', () => {
  it('byte-mutated RFC 4475 messages', () => {
    const stats = newStats();
    const rnd = prng(4475);
    const t0 = performance.now();
    for (let i = 0; i < 12000; i++) check(mutate(pick(rnd, CORPUS), rnd), stats);
    const elapsed = performance.now() - t0;
    expect(stats.problems.slice(0, 5)).toEqual([]);
    // Both outcomes are exercised, and plenty of refusals can still be answered.
    expect(stats.parsed).toBeGreaterThan(1000);
    expect(stats.refused).toBeGreaterThan(1000);
    expect(stats.answerable).toBeGreaterThan(500);
    expect(stats.slowest).toBeLessThan(50);
    expect(elapsed).toBeLessThan(15000);
  });

  it('random message-shaped texts', () => {
    const stats = newStats();
    const rnd = prng(3261);
    for (let i = 0; i < 8000; i++) check(randomMessage(rnd), stats);
    expect(stats.problems.slice(0, 5)).toEqual([]);
    expect(stats.parsed).toBeGreaterThan(2500);
    expect(stats.refused).toBeGreaterThan(1500);
    expect(stats.slowest).toBeLessThan(50);
  });

  it('random bytes', () => {
    const stats = newStats();
    const rnd = prng(18);
    for (let i = 0; i < 5000; i++) check(randomBytes(rnd), stats);
    expect(stats.problems.slice(0, 5)).toEqual([]);
  });

  it('pathological shapes stay fast', () => {
    const stats = newStats();
    const base = ACCEPTED.wsinv!.toString('latin1');
    const inputs = [
      'INVITE sip:a@b SIP/2.0\r\n' + 'X: a\r\n'.repeat(10000) + '\r\n', // far past maxHeaders
      'INVITE sip:a@b SIP/2.0\r\nX: a' + '\r\n b'.repeat(20000) + '\r\n\r\n', // endless folding
      'INVITE sip:a@b SIP/2.0\nX: a' + '\n b'.repeat(20000) + '\n\n', // endless folding on bare LFs
      'INVITE sip:a@b SIP/2.0\r\nX: a' + '\r b'.repeat(20000) + '\r\n\r\n', // bare CRs everywhere
      'INVITE sip:a@b SIP/2.0\r\n' + 'junk\r\n'.repeat(9000) + '\r\n', // no colons anywhere
      'INVITE sip:a@b SIP/2.0\r\nFrom: ' + '"'.repeat(60000) + '\r\n\r\n',
      'INVITE sip:a@b SIP/2.0\r\nVia: ' + 'SIP/2.0/UDP h;a=b'.repeat(3000) + '\r\n\r\n',
      'INVITE sip:a@b SIP/2.0\r\nVia: ' + 'SIP/2.0/UDP h,'.repeat(3000) + '\r\n\r\n',
      'INVITE sip:' + ';x'.repeat(30000) + ' SIP/2.0\r\n\r\n',
      '\r\n'.repeat(30000),
      base.replace('\r\n\r\n', '\r\n' + 'Route: <sip:p;lr>\r\n'.repeat(95) + '\r\n'),
    ];
    for (const s of inputs) check(Buffer.from(s, 'latin1'), stats);
    expect(stats.problems).toEqual([]);
    expect(stats.slowest).toBeLessThan(50);
  });
});

describe('fuzz: StreamFramer throws only StreamFramingError (RFC 3261 §18.3, seeded)', () => {
  it('mutated streams in random chunks', () => {
    const rnd = prng(5626);
    const problems: string[] = [];
    let messages = 0;
    let failures = 0;
    for (let run = 0; run < 1500; run++) {
      const parts: Buffer[] = [];
      for (let k = 1 + int(rnd, 4); k > 0; k--) {
        if (rnd() < 0.2) parts.push(Buffer.from(rnd() < 0.5 ? '\r\n\r\n' : '\r\n'));
        const m = pick(rnd, CORPUS);
        parts.push(rnd() < 0.5 ? m : mutate(m, rnd));
      }
      const stream = Buffer.concat(parts);
      const framer = new StreamFramer();
      try {
        for (let p = 0; p < stream.length; ) {
          const n = 1 + int(rnd, 300);
          for (const f of framer.push(stream.subarray(p, p + n))) {
            if (f.kind !== 'message') continue;
            messages++;
            try {
              parseMessage(f.data);
            } catch (e) {
              if (!(e instanceof SipParseError)) problems.push(`parser: ${String(e)}`);
            }
          }
          p += n;
        }
      } catch (e) {
        if (e instanceof StreamFramingError) failures++;
        else problems.push(`framer: ${String(e)}`);
      }
      expect(framer.bufferedBytes).toBeLessThanOrEqual(65535);
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(messages).toBeGreaterThan(1000);
    expect(failures).toBeGreaterThan(50);
  });
});
