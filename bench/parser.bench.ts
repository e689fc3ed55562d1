/**
 * Parser/serializer throughput on one core: `node bench/parser.bench.ts [seconds-per-case]`.
 * Node runs the TypeScript directly (type stripping); no build or tsx needed.
 */
import { parseMessage } from '../server/src/sip/parser.ts';
import { serializeMessage } from '../server/src/sip/serializer.ts';
import { StreamFramer } from '../server/src/sip/stream-framer.ts';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'));

const sdp = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 198.51.100.7',
  's=-',
  'c=IN IP4 198.51.100.7',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 97',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:97 opus/48000/2',
  '',
].join('\r\n');

const REGISTER = crlf([
  'REGISTER sip:example.com SIP/2.0',
  'Via: SIP/2.0/TCP 198.51.100.7:53124;branch=z9hG4bK-524287-1---6a0b9c1d2e3f;rport',
  'Max-Forwards: 70',
  'Contact: <sip:alice@198.51.100.7:53124;transport=tcp;ob>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1;expires=600',
  'To: "Alice" <sip:alice@example.com>',
  'From: "Alice" <sip:alice@example.com>;tag=9fxced76sl',
  'Call-ID: 843817637684230@998sdasdh09',
  'CSeq: 1826 REGISTER',
  'Authorization: Digest username="alice", realm="example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001',
  'Supported: outbound, path, gruu',
  'User-Agent: Sotto-Bench/1.0',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY, REFER',
  'Content-Length: 0',
  '',
  '',
]);

const INVITE = Buffer.concat([
  crlf([
    'INVITE sip:bob@example.com SIP/2.0',
    'Via: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKnashds8;received=203.0.113.9;rport=5060',
    'Via: SIP/2.0/TLS 198.51.100.7:53124;branch=z9hG4bK-524287-1---77aa;rport=53124;received=198.51.100.7',
    'Record-Route: <sip:203.0.113.9;lr>',
    'Max-Forwards: 69',
    'To: Bob <sip:bob@example.com>',
    'From: "Alice" <sip:alice@example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@198.51.100.7:53124;transport=tls;ob>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE',
    'Supported: replaces, timer, 100rel',
    'Session-Expires: 1800',
    'User-Agent: Sotto-Bench/1.0',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    '',
  ]),
  Buffer.from(sdp),
]);

const seconds = Number(process.argv[2] ?? 1);

function bench(name: string, fn: () => void, perCall = 1): void {
  for (let i = 0; i < 20000; i++) fn(); // warm up the JIT
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  const perSec = ((n * perCall) / Number(elapsed)) * 1e9;
  console.log(`${name.padEnd(34)} ${Math.round(perSec).toLocaleString('en-US').padStart(12)} msg/s  ${(1e6 / perSec).toFixed(2)} µs/msg`);
}

const regMsg = parseMessage(REGISTER);
const invMsg = parseMessage(INVITE);
bench(`parse REGISTER (${REGISTER.length} B)`, () => parseMessage(REGISTER));
bench(`parse INVITE (${INVITE.length} B)`, () => parseMessage(INVITE));
bench('serialize REGISTER', () => serializeMessage(regMsg));
bench('serialize INVITE', () => serializeMessage(invMsg));
const stream = Buffer.concat(Array.from({ length: 10 }, () => INVITE));
bench(
  'frame INVITE (TCP, 10 per chunk)',
  () => {
    const f = new StreamFramer();
    f.push(stream);
  },
  10,
);
bench(
  'frame + parse INVITE (TCP)',
  () => {
    const f = new StreamFramer();
    for (const fr of f.push(stream)) if (fr.kind === 'message') parseMessage(fr.data);
  },
  10,
);
