/**
 * In-process cost of a digest-authenticated REGISTER on one core:
 * `node bench/core/register.ts` (env N = registrations per run, default 20000; RUNS, default 5).
 *
 * Drives a real Sotto server without the network in the way: each REGISTER is built as bytes,
 * parsed with the server's parser and handed to the transaction layer (what the UDP transport
 * does), the 401 challenge it answers is captured on its way to the transport, and the second
 * REGISTER carries the credentials for it. Responses are serialized and sent over loopback UDP
 * as usual. Server time (parse + transaction layer + auth + registrar + serialize + send) is
 * timed per message; building the test messages and computing the client's digest are not.
 *
 * Prints the median of RUNS runs after one warm-up run (each starting from an empty transaction
 * table, so each holds up to 2N completed transactions at its end), and the memory (JS heap and
 * Buffers) retained per completed (Timer J) non-INVITE server transaction. Per-message CPU time
 * comes from process.threadCpuUsage() around each message, which itself adds about 1 µs per
 * message; compare figures taken the same way, on the same machine, alternating before/after.
 * Run it where port PORT (default 33060) is free, e.g.
 * `unshare -rn sh -c 'ip link set lo up; exec node bench/core/register.ts'`.
 */
import { hash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestServer } from '../../test/helpers/server.ts';
import { parseMessage } from '../../server/src/sip/parser.ts';
import type { SipMessage, SipResponse } from '../../server/src/sip/message.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PORT = Number(process.env.PORT ?? 33060);
const SINK = PORT + 2939;
const N = Number(process.env.N ?? 20000);
const RUNS = Number(process.env.RUNS ?? 5);
const USERS = 200;

const users: Record<string, string> = {};
for (let i = 1; i <= USERS; i++) users[`lt${i}`] = `pw-lt${i}-pad`;
const server = await startTestServer({
  basePort: PORT,
  users,
  overrides: { auth: { algorithms: ['MD5'] }, sip: { tls: { enabled: false } }, http: { http: { enabled: false }, https: { enabled: false } } },
});
const sink = createSocket('udp4');
await new Promise<void>((r) => sink.bind(SINK, '127.0.0.1', () => r()));
sink.on('message', () => {});

const md5 = (s: string) => hash('md5', s, 'hex');
const ha1 = new Map<string, string>();
for (const [u, p] of Object.entries(users)) ha1.set(u, md5(`${u}:localhost:${p}`));
const ha2 = md5('REGISTER:sip:localhost');

const tx = server.sip.transactions;
const peer = { transport: 'udp' as const, address: '127.0.0.1', port: SINK };
let lastOut: SipMessage | undefined;
const transport = server.sip.transport as { send(msg: SipMessage, dest: unknown): boolean };
const origSend = transport.send.bind(transport);
transport.send = (msg, dest) => {
  lastOut = msg;
  return origSend(msg, dest);
};

function register(tag: string, i: number, cseq: number, auth = ''): Buffer {
  const u = `lt${(i % USERS) + 1}`;
  return Buffer.from(
    `REGISTER sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${SINK};branch=z9hG4bK-${tag}-${i}-${cseq}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:${u}@localhost>;tag=${i}R\r\nTo: <sip:${u}@localhost>\r\nCall-ID: ${tag}-${i}-reg@127.0.0.1\r\nCSeq: ${cseq} REGISTER\r\n` +
      `Contact: <sip:${u}@127.0.0.1:${SINK};transport=UDP>\r\n${auth}Expires: 3600\r\nUser-Agent: sipp-register\r\nContent-Length: 0\r\n\r\n`,
  );
}

function challengeParam(res: SipResponse, name: string): string {
  const h = res.headers.find((f) => f.name === 'WWW-Authenticate');
  if (!h) throw new Error(`expected a challenge, got ${res.status}`);
  const m = new RegExp(`${name}="([^"]+)"`).exec(h.value);
  if (!m) throw new Error(`challenge without ${name}`);
  return m[1]!;
}

let runNo = 0;
/** CPU time of this thread in µs: insensitive to other processes on a shared machine. */
const cpuNow = () => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};
const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * One run of n registrations from an empty transaction table (so every run holds the same
 * number of completed transactions in Timer J); returns server µs per request. The event loop
 * gets a turn every 256 registrations, as it would between datagrams.
 */
async function run(n: number): Promise<{ usPerReq: number; cpuPerReq: number; wallMs: number }> {
  tx.close();
  gc();
  const tag = `r${runNo++}`;
  let server = 0;
  let cpu = 0;
  let ok = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if ((i & 255) === 255) await tick();
    const first = register(tag, i, 1);
    let c = cpuNow();
    let a = performance.now();
    tx.receive(parseMessage(first), peer);
    server += performance.now() - a;
    cpu += cpuNow() - c;
    const ch = lastOut as SipResponse;
    const nonce = challengeParam(ch, 'nonce');
    const opaque = challengeParam(ch, 'opaque');
    const u = `lt${(i % USERS) + 1}`;
    const resp = md5(`${ha1.get(u)}:${nonce}:00000001:abc:auth:${ha2}`);
    const second = register(
      tag,
      i,
      2,
      `Authorization: Digest username="${u}",realm="localhost",cnonce="abc",nc=00000001,qop=auth,uri="sip:localhost",nonce="${nonce}",response="${resp}",algorithm=MD5,opaque="${opaque}"\r\n`,
    );
    c = cpuNow();
    a = performance.now();
    tx.receive(parseMessage(second), peer);
    server += performance.now() - a;
    cpu += cpuNow() - c;
    if ((lastOut as SipResponse).status === 200) ok++;
  }
  const wallMs = performance.now() - t0;
  if (ok !== n) throw new Error(`only ${ok} of ${n} registrations succeeded`);
  return { usPerReq: (server * 1000) / (2 * n), cpuPerReq: cpu / (2 * n), wallMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await run(Math.min(N, 5000)); // warm-up
const wall: number[] = [];
const cpu: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const { usPerReq, cpuPerReq, wallMs } = await run(N);
  wall.push(usPerReq);
  cpu.push(cpuPerReq);
  console.log(
    `  run ${r + 1}: ${usPerReq.toFixed(1)} µs/request wall, ${cpuPerReq.toFixed(1)} µs/request CPU (${((N / wallMs) * 1000).toFixed(0)} registrations/s with client work)`,
  );
}
const med = median(wall);
const medCpu = median(cpu);
console.log(
  `register: ${(1e6 / med).toFixed(0)} requests/s, ${med.toFixed(1)} µs/request wall; ${(1e6 / medCpu).toFixed(0)} requests/s, ${medCpu.toFixed(1)} µs/request main-thread CPU; ` +
    `${(1e6 / medCpu / 2).toFixed(0)} registrations/s (median of ${RUNS} x ${N}, server side)`,
);

// Memory retained by completed transactions: everything the server still holds for them while
// Timer J runs, measured as what is freed when the transaction layer drops them all.
/** JS heap plus Buffer memory (serialized messages live outside the heap). */
const retained = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const M = 10000;
await run(M);
const live = tx.size;
gc();
gc();
const withTx = retained();
tx.close();
gc();
gc();
const without = retained();
console.log(`memory: ${((withTx - without) / live).toFixed(0)} bytes per completed REGISTER transaction (${live} live)`);

sink.close();
await server.stop();
process.exit(0);
