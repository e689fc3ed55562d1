/**
 * In-process cost of a proxied call on one core: `node bench/core/call.ts`
 * (env N = calls per run, default 5000; RUNS, default 5).
 *
 * Drives a real Sotto server without the network in the way, like bench/core/register.ts: a
 * registered callee (UDP contact), and per call the caller's INVITE, the 407 challenge and its
 * ACK, the INVITE with Proxy-Authorization, the callee's 100/180/200 (injected as received
 * responses, built from the INVITE the proxy forwarded), the caller's ACK and BYE along the
 * recorded route, and the callee's 200 to the BYE. Every message is built as bytes and parsed
 * by the server's parser; what the proxy sends is captured at `transport.send` (and still sent
 * over loopback UDP). Server time (parse + transaction layer + auth + proxy + serialize + send,
 * including the microtasks a forward may wait for) is timed per message; building the test
 * messages and the client's digest are not.
 *
 * Prints the median of RUNS runs after a warm-up run, each from an empty transaction table, and
 * the memory (JS heap and Buffers) the transaction layer retains per completed call. CPU time is
 * measured per message as in bench/core/register.ts (about 1 µs per message of it is the
 * measurement itself). Run it where port PORT (default 33160) is free, e.g.
 * `unshare -rn sh -c 'ip link set lo up; exec node bench/core/call.ts'`.
 */
import { hash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestServer } from '../../test/helpers/server.ts';
import { parseMessage } from '../../server/src/sip/parser.ts';
import type { Peer, SipMessage, SipRequest, SipResponse } from '../../server/src/sip/message.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PORT = Number(process.env.PORT ?? 33160);
const CALLER = PORT + 2938;
const CALLEE = PORT + 2939;
const N = Number(process.env.N ?? 5000);
const RUNS = Number(process.env.RUNS ?? 5);
const USERS = 100;

const users: Record<string, string> = { callee: 'pw-callee-pad' };
for (let i = 1; i <= USERS; i++) users[`c${i}`] = `pw-c${i}-pad`;
const server = await startTestServer({
  basePort: PORT,
  users,
  overrides: { auth: { algorithms: ['MD5'] }, sip: { tls: { enabled: false } }, http: { http: { enabled: false }, https: { enabled: false } } },
});
const sinks = await Promise.all(
  [CALLER, CALLEE].map(async (port) => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(port, '127.0.0.1', () => r()));
    s.on('message', () => {});
    return s;
  }),
);

const md5 = (s: string) => hash('md5', s, 'hex');
const ha1 = new Map<string, string>();
for (const [u, p] of Object.entries(users)) ha1.set(u, md5(`${u}:localhost:${p}`));

const tx = server.sip.transactions;
const caller: Peer = { transport: 'udp', address: '127.0.0.1', port: CALLER };
const callee: Peer = { transport: 'udp', address: '127.0.0.1', port: CALLEE };
const out: { msg: SipMessage; dest: Peer }[] = [];
const transport = server.sip.transport as { send(msg: SipMessage, dest: Peer): boolean };
const origSend = transport.send.bind(transport);
transport.send = (msg, dest) => {
  out.push({ msg, dest });
  return origSend(msg, dest);
};

const cpuNow = () => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
let wall = 0;
let cpu = 0;
let messages = 0;

/**
 * Hand one message to the server as the UDP transport would and wait (microtasks only) until it
 * has sent `expect` messages; returns them.
 */
async function feed(text: string, from: Peer, expect: number): Promise<{ msg: SipMessage; dest: Peer }[]> {
  const buf = Buffer.from(text);
  out.length = 0;
  const c = cpuNow();
  const a = performance.now();
  tx.receive(parseMessage(buf), from);
  for (let k = 0; out.length < expect && k < 50; k++) await null;
  wall += performance.now() - a;
  cpu += cpuNow() - c;
  messages++;
  if (out.length !== expect) throw new Error(`expected ${expect} message(s) out, got ${out.length} for ${text.slice(0, text.indexOf('\r'))}`);
  return out.slice();
}

const lines = (msg: SipMessage, name: string) => msg.headers.filter((h) => h.name === name).map((h) => h.value);
const one = (msg: SipMessage, name: string) => {
  const v = lines(msg, name)[0];
  if (v === undefined) throw new Error(`no ${name}`);
  return v;
};
function param(value: string, name: string): string {
  const m = new RegExp(`${name}="([^"]+)"`).exec(value);
  if (!m) throw new Error(`no ${name}`);
  return m[1]!;
}

const SDP = 'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
const CALLEE_CONTACT = `sip:callee@127.0.0.1:${CALLEE};transport=UDP`;

/** The callee's response to a request the proxy forwarded to it. */
function answer(req: SipRequest, status: number, reason: string, toTag: string | undefined, body = ''): string {
  let s = `SIP/2.0 ${status} ${reason}\r\n`;
  for (const v of lines(req, 'Via')) s += `Via: ${v}\r\n`;
  for (const v of lines(req, 'Record-Route')) s += `Record-Route: ${v}\r\n`;
  s += `From: ${one(req, 'From')}\r\nTo: ${one(req, 'To')}${toTag ? `;tag=${toTag}` : ''}\r\nCall-ID: ${one(req, 'Call-ID')}\r\nCSeq: ${one(req, 'CSeq')}\r\n`;
  if (status > 100) s += `Contact: <${CALLEE_CONTACT}>\r\n`;
  if (body) s += 'Content-Type: application/sdp\r\n';
  return `${s}Content-Length: ${body.length}\r\n\r\n${body}`;
}

async function registerCallee(): Promise<void> {
  const reg = (cseq: number, auth: string) =>
    `REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${CALLEE};branch=z9hG4bK-reg-${cseq}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:callee@localhost>;tag=reg\r\nTo: <sip:callee@localhost>\r\nCall-ID: callee-reg@127.0.0.1\r\nCSeq: ${cseq} REGISTER\r\n` +
    `Contact: <${CALLEE_CONTACT}>\r\n${auth}Expires: 3600\r\nContent-Length: 0\r\n\r\n`;
  const [ch] = await feed(reg(1, ''), callee, 1);
  const www = one(ch!.msg, 'WWW-Authenticate');
  const nonce = param(www, 'nonce');
  const resp = md5(`${ha1.get('callee')}:${nonce}:00000001:abc:auth:${md5('REGISTER:sip:localhost')}`);
  const auth = `Authorization: Digest username="callee",realm="localhost",cnonce="abc",nc=00000001,qop=auth,uri="sip:localhost",nonce="${nonce}",response="${resp}",algorithm=MD5,opaque="${param(www, 'opaque')}"\r\n`;
  const [ok] = await feed(reg(2, auth), callee, 1);
  if ((ok!.msg as SipResponse).status !== 200) throw new Error('callee registration failed');
}

async function call(tag: string, i: number): Promise<void> {
  const u = `c${(i % USERS) + 1}`;
  const callId = `${tag}-${i}-call@127.0.0.1`;
  const from = `<sip:${u}@localhost>;tag=${tag}C${i}`;
  const via = (n: number) => `Via: SIP/2.0/UDP 127.0.0.1:${CALLER};branch=z9hG4bK-${tag}-${i}-${n}\r\n`;
  const invite = (cseq: number, auth: string) =>
    `INVITE sip:callee@localhost SIP/2.0\r\n${via(cseq)}Max-Forwards: 70\r\nFrom: ${from}\r\nTo: <sip:callee@localhost>\r\n` +
    `Call-ID: ${callId}\r\nCSeq: ${cseq} INVITE\r\nContact: <sip:${u}@127.0.0.1:${CALLER};transport=UDP>\r\n${auth}Subject: sipp call\r\n` +
    `Content-Type: application/sdp\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`;

  // INVITE → 407, ACK (absorbed by the INVITE server transaction).
  const [c407] = await feed(invite(1, ''), caller, 1);
  const challenge = c407!.msg as SipResponse;
  if (challenge.status !== 407) throw new Error(`expected 407, got ${challenge.status}`);
  await feed(
    `ACK sip:callee@localhost SIP/2.0\r\n${via(1)}Max-Forwards: 70\r\nFrom: ${from}\r\nTo: ${one(challenge, 'To')}\r\nCall-ID: ${callId}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
    caller,
    0,
  );

  // INVITE with credentials → forwarded to the callee.
  const pa = one(challenge, 'Proxy-Authenticate');
  const nonce = param(pa, 'nonce');
  const resp = md5(`${ha1.get(u)}:${nonce}:00000001:abc:auth:${md5('INVITE:sip:callee@localhost')}`);
  const auth = `Proxy-Authorization: Digest username="${u}",realm="localhost",cnonce="abc",nc=00000001,qop=auth,uri="sip:callee@localhost",nonce="${nonce}",response="${resp}",algorithm=MD5,opaque="${param(pa, 'opaque')}"\r\n`;
  const [fwdInvite] = await feed(invite(2, auth), caller, 1);
  if (fwdInvite!.dest.port !== CALLEE) throw new Error('INVITE not forwarded to the callee');
  const inv = fwdInvite!.msg as SipRequest;

  // The callee answers: 100 (hop by hop, absorbed), 180 and 200 (forwarded to the caller).
  const toTag = `${tag}S${i}`;
  await feed(answer(inv, 100, 'Trying', undefined), callee, 0);
  await feed(answer(inv, 180, 'Ringing', toTag), callee, 1);
  const [ok] = await feed(answer(inv, 200, 'OK', toTag, SDP), callee, 1);
  const res = ok!.msg as SipResponse;
  if (res.status !== 200 || ok!.dest.port !== CALLER) throw new Error('200 not forwarded to the caller');

  // The caller's dialog: route set = Record-Route reversed, remote target = Contact.
  const routes = `Route: ${lines(res, 'Record-Route').reverse().join(', ')}\r\n`;
  const to = one(res, 'To');
  const inDialog = (method: string, cseq: number, n: number) =>
    `${method} ${CALLEE_CONTACT} SIP/2.0\r\n${via(n)}${routes}Max-Forwards: 70\r\nFrom: ${from}\r\nTo: ${to}\r\nCall-ID: ${callId}\r\n` +
    `CSeq: ${cseq} ${method}\r\nContact: <sip:${u}@127.0.0.1:${CALLER};transport=UDP>\r\nContent-Length: 0\r\n\r\n`;
  const [ack] = await feed(inDialog('ACK', 2, 3), caller, 1);
  if (ack!.dest.port !== CALLEE) throw new Error('ACK not forwarded to the callee');
  const [bye] = await feed(inDialog('BYE', 3, 4), caller, 1);
  if (bye!.dest.port !== CALLEE) throw new Error('BYE not forwarded to the callee');
  const [byeOk] = await feed(answer(bye!.msg as SipRequest, 200, 'OK', undefined), callee, 1);
  if ((byeOk!.msg as SipResponse).status !== 200 || byeOk!.dest.port !== CALLER) throw new Error('200 to BYE not forwarded');
}

const tick = () => new Promise<void>((r) => setImmediate(r));
let runNo = 0;

/** n calls from an empty transaction table; server µs per call (wall and main-thread CPU). */
async function run(n: number): Promise<{ wallPerCall: number; cpuPerCall: number; perMessage: number; wallMs: number }> {
  tx.close();
  gc();
  const tag = `r${runNo++}`;
  wall = cpu = messages = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if ((i & 63) === 63) await tick();
    await call(tag, i);
  }
  const wallMs = performance.now() - t0;
  return { wallPerCall: (wall * 1000) / n, cpuPerCall: cpu / n, perMessage: cpu / messages, wallMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await registerCallee();
await run(Math.min(N, 2000)); // warm-up
const walls: number[] = [];
const cpus: number[] = [];
const perMsg: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const res = await run(N);
  walls.push(res.wallPerCall);
  cpus.push(res.cpuPerCall);
  perMsg.push(res.perMessage);
  console.log(
    `  run ${r + 1}: ${res.wallPerCall.toFixed(0)} µs/call wall, ${res.cpuPerCall.toFixed(0)} µs/call CPU, ${res.perMessage.toFixed(1)} µs/message CPU (${((N / res.wallMs) * 1000).toFixed(0)} calls/s with client work)`,
  );
}
const mw = median(walls);
const mc = median(cpus);
console.log(
  `call: ${(1e6 / mw).toFixed(0)} calls/s, ${mw.toFixed(0)} µs/call wall; ${(1e6 / mc).toFixed(0)} calls/s, ${mc.toFixed(0)} µs/call main-thread CPU; ` +
    `${median(perMsg).toFixed(1)} µs per received message (9 per call) (median of ${RUNS} x ${N}, server side)`,
);

// Memory the transaction layer retains per call while Timers I, K, L, M and J run.
/** JS heap plus Buffer memory (serialized messages live outside the heap). */
const retained = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const M = 5000;
await run(M);
const live = tx.size;
gc();
gc();
const withTx = retained();
tx.close();
gc();
gc();
const without = retained();
console.log(`memory: ${((withTx - without) / M).toFixed(0)} bytes per completed call (${live} live transactions, ${(live / M).toFixed(1)} per call)`);

for (const s of sinks) s.close();
await server.stop();
process.exit(0);
