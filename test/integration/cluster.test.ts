/**
 * sip.workers = 2: two worker processes share the SIP ports. Each message goes to the worker
 * that owns its Call-ID, registrations made through one worker are known to the other, and a
 * worker that dies is replaced with the current bindings. Driven by sipp over UDP and TCP.
 *
 * Group calls in the same cluster: worker 0 hosts the rooms, worker 1 passes it the room API and
 * the /rooms sockets it reads (server/src/http/rooms-forward.ts); participants that reached
 * different workers meet in one room, both workers' proxies answer the room's SIP URI, and when
 * worker 0 dies its rooms go with it and its replacement takes new ones.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server.ts';
import { runSipp, startSipp } from '../helpers/sipp.ts';
import { REPLICATION_DELAY_MS } from '../../server/src/cluster/worker-link.ts';
import { shardOf } from '../../server/src/cluster/shard.ts';
import { RoomClient } from '../helpers/room-client.ts';
import { RawUa } from '../helpers/raw-ua.ts';

const PORT = 32060;
const TARGET = `127.0.0.1:${PORT}`;
const CLI = join(ROOT, 'server/src/cli.ts');
const USERS: [string, string][] = Array.from({ length: 20 }, (_, i) => [`u${i}`, `password-u${i}`]);
let server: ChildProcess;
let stderr = '';
const env = {
  ...process.env,
  SOTTO_DATA_DIR: mkdtempSync(join(tmpdir(), 'sotto-cluster-')),
  SOTTO_SIP__WORKERS: '2',
  SOTTO_SIP__UDP__PORT: String(PORT),
  SOTTO_SIP__TCP__PORT: String(PORT),
  SOTTO_SIP__TLS__PORT: String(PORT + 1),
  SOTTO_HTTP__HTTP__PORT: String(PORT + 2),
  SOTTO_HTTP__HTTPS__PORT: String(PORT + 3),
  SOTTO_AUTH__ALGORITHMS: '[MD5]',
  SOTTO_SECURITY__RATE_LIMIT__PER_SECOND: '100000',
  SOTTO_SECURITY__RATE_LIMIT__BURST: '100000',
  SOTTO_LOG__LEVEL: 'warn',
  // One media worker, on ports of this test, for the group-call cases.
  SOTTO_SFU__WORKERS: '1',
  SOTTO_SFU__PORT: String(PORT + 340),
  SOTTO_SFU__RTC_MIN_PORT: String(PORT + 400),
  SOTTO_SFU__RTC_MAX_PORT: String(PORT + 499),
  SOTTO_SFU__LOG_LEVEL: 'error',
};
const HTTPS = PORT + 3;

function workerPids(): number[] {
  const out = spawnSync('ps', ['-o', 'pid=', '--ppid', String(server.pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').map((l) => Number(l.trim())).filter((n) => n > 0);
}

async function waitFor(re: RegExp, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(stderr)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  for (const [u, p] of [...USERS, ['uas', 'password-uas'] as [string, string]]) {
    const r = spawnSync(process.execPath, [CLI, 'user', 'add', u, '--password-stdin'], { cwd: ROOT, env, input: `${p}\n`, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  }
  server = spawn(process.execPath, [CLI, 'start'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(/Sotto is serving localhost with 2 workers/);
  // Let the workers exchange their peer-link ports.
  await new Promise((r) => setTimeout(r, 300));
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
});

describe('two SIP workers', () => {
  it('runs two worker processes', () => {
    expect(workerPids()).toHaveLength(2);
  });

  it('registers 200 times with digest auth over UDP (challenge and retry read by any worker)', async () => {
    const r = await runSipp({ scenario: 'register.xml', target: TARGET, transport: 'udp', localPort: 32100, users: USERS, keys: { domain: 'localhost' }, calls: 200, rate: 200 });
    expect(r.errors).toBe('');
    expect(r.successful).toBe(200);
  });

  it.each(['udp', 'tcp'] as const)('completes 100 calls over %s through both workers', async (transport) => {
    const uasPort = transport === 'udp' ? 32110 : 32210;
    const reg = await runSipp({ scenario: 'register.xml', target: TARGET, transport, localPort: uasPort, users: [['uas', 'password-uas']], keys: { domain: 'localhost' } });
    expect(reg.successful).toBe(1);
    const uas = startSipp({ scenario: 'uas.xml', target: TARGET, transport, localPort: uasPort, calls: 100, timeoutS: 40 });
    await new Promise((r) => setTimeout(r, 300));
    const uac = await runSipp({ scenario: 'uac_call.xml', target: TARGET, transport, localPort: uasPort + 10, users: USERS, keys: { domain: 'localhost', callee: 'uas' }, calls: 100, rate: 100 });
    const uasResult = await uas.stop();
    expect(uac.errors).toBe('');
    expect(uac.successful).toBe(100);
    expect(uasResult.successful).toBe(100);
  });

  it('replaces a worker that dies, and the new one knows the registrations', async () => {
    const reg = await runSipp({ scenario: 'register.xml', target: TARGET, transport: 'udp', localPort: 32310, users: [['uas', 'password-uas']], keys: { domain: 'localhost' } });
    expect(reg.successful).toBe(1);
    // A registration reaches the other workers within REPLICATION_DELAY_MS; one made just before
    // its worker dies is lost until the phone refreshes it (as with Kamailio's in-memory usrloc).
    await new Promise((r) => setTimeout(r, REPLICATION_DELAY_MS * 5));
    const [victim] = workerPids();
    process.kill(victim!, 'SIGKILL');
    const end = Date.now() + 10_000;
    while (workerPids().length < 2 || workerPids().includes(victim!)) {
      if (Date.now() > end) throw new Error('worker not replaced');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    // Every call must find the callee, whichever worker owns it: 20 calls spread over both.
    const uas = startSipp({ scenario: 'uas.xml', target: TARGET, transport: 'udp', localPort: 32310, calls: 20, timeoutS: 30 });
    await new Promise((r) => setTimeout(r, 300));
    const uac = await runSipp({ scenario: 'uac_call.xml', target: TARGET, transport: 'udp', localPort: 32320, users: USERS, keys: { domain: 'localhost', callee: 'uas' }, calls: 20, rate: 50 });
    await uas.stop();
    expect(uac.errors).toBe('');
    expect(uac.successful).toBe(20);
  });
});

/** A JSON request on a connection of its own, so that the cluster may hand it to either worker. */
function fresh(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: HTTPS,
        method,
        path,
        agent: false,
        rejectUnauthorized: false,
        headers: { ...(payload !== undefined && { 'content-type': 'application/json' }), ...(token && { authorization: `Bearer ${token}` }) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // /metrics is text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** /metrics of each worker (by sotto_cluster_worker_index), scraped until both have answered. */
async function metricsByWorker(): Promise<Map<number, Map<string, number>>> {
  const out = new Map<number, Map<string, number>>();
  for (let i = 0; i < 40 && out.size < 2; i++) {
    const m = new Map<string, number>();
    for (const line of String((await fresh('GET', '/metrics')).body).split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) m.set(k, Number(v));
    }
    out.set(m.get('sotto_cluster_worker_index') ?? -1, m);
  }
  if (!out.has(0) || !out.has(1)) throw new Error(`only workers ${[...out.keys()]} answered /metrics`);
  return out;
}

const metric = (m: Map<number, Map<string, number>>, worker: number, name: string) => m.get(worker)?.get(name) ?? 0;

/** The worker process with this index (its environment says so). */
function workerPid(index: number): number | undefined {
  return workerPids().find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`SOTTO_INTERNAL_WORKER_INDEX=${index}`);
    } catch {
      return false;
    }
  });
}

/** A Call-ID that worker `owner` handles (server/src/cluster/shard.ts). */
function callIdFor(owner: number): string {
  for (;;) {
    const id = `room-${randomBytes(6).toString('hex')}`;
    if (shardOf(id, 2) === owner) return id;
  }
}

/** A phone of another domain INVITEs sip:ROOM@localhost with a Call-ID that worker `owner` handles; the final status and Contact. */
async function inviteRoom(phone: RawUa, room: string, owner: number): Promise<{ status: number; contact: string | undefined }> {
  const callId = callIdFor(owner);
  const head = (m: string) => [`${m} sip:${room}@localhost SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK${callId}`, 'Max-Forwards: 70', 'From: <sip:desk@elsewhere.example>;tag=d1'];
  phone.send([...head('INVITE'), `To: <sip:${room}@localhost>`, `Call-ID: ${callId}`, 'CSeq: 1 INVITE', `Contact: <sip:desk@127.0.0.1:${phone.port}>`, 'Content-Length: 0', '', ''].join('\r\n'), PORT);
  const res = await phone.next((m) => m.status !== undefined && m.status >= 200 && m.header('call-id') === callId, 5000);
  phone.send([...head('ACK'), `To: ${res.header('to')}`, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'), PORT);
  return { status: res.status!, contact: res.header('contact') };
}

describe('group calls with two SIP workers (worker 0 hosts the rooms)', () => {
  const USERS6 = USERS.slice(0, 6);
  const tokens: string[] = [];
  const clients: RoomClient[] = [];
  let phone: RawUa;
  const identityKey = () => randomBytes(32).toString('base64url');

  beforeAll(async () => {
    phone = await new RawUa('desk').bind();
  });

  afterAll(() => {
    for (const c of clients) c.close();
    phone?.close();
  });

  it('signs in and creates a room through either worker (the room API of worker 1 goes to worker 0)', async () => {
    // One connection per request: the cluster hands them to both workers in turn.
    for (const [u, p] of USERS6) {
      const r = await fresh('POST', '/api/session', { username: u, password: p });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      tokens.push((r.body as { token: string }).token);
    }
    const created = await fresh('POST', '/api/rooms', { name: 'cluster-room' }, tokens[0]);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // A token issued through one worker works through the other: the sessions live in worker 0.
    for (let i = 0; i < 4; i++) expect((await fresh('GET', '/api/rooms/cluster-room', undefined, tokens[1])).status).toBe(200);
    const m = await metricsByWorker();
    expect(metric(m, 1, 'sotto_rooms_forwarded_requests_total')).toBeGreaterThan(0);
    expect(metric(m, 0, 'sotto_sfu_rooms')).toBe(1);
    expect(m.get(1)?.has('sotto_sfu_rooms')).toBe(false);
  });

  it('participants whose sockets reached different workers meet in one room and relay to each other', async () => {
    const joined: { participantId: string; worker: number }[] = [];
    let before = await metricsByWorker();
    for (let i = 0; i < USERS6.length; i++) {
      const c = await RoomClient.connect(HTTPS);
      clients.push(c);
      const j = await c.request('join', { room: 'cluster-room', token: tokens[i]!, e2ee: { identityKey: identityKey() } });
      const after = await metricsByWorker();
      // Which worker read this client's upgrade.
      const worker = metric(after, 1, 'sotto_rooms_upgrades_total') > metric(before, 1, 'sotto_rooms_upgrades_total') ? 1 : 0;
      joined.push({ participantId: j.participantId, worker });
      before = after;
      // Each newcomer is told of everyone before it, whichever worker they came through.
      expect(j.participants.map((p) => p.name).sort()).toEqual(USERS6.slice(0, i).map(([u]) => u).sort());
      if (joined.some((x) => x.worker === 0) && joined.some((x) => x.worker === 1)) break;
    }
    const a = joined.findIndex((x) => x.worker === 0);
    const b = joined.findIndex((x) => x.worker === 1);
    expect(a, 'a client on worker 0').toBeGreaterThanOrEqual(0);
    expect(b, 'a client on worker 1').toBeGreaterThanOrEqual(0);
    const [first, second] = a < b ? [a, b] : [b, a];
    await clients[first]!.next('participantJoined', (p) => p.id === joined[second]!.participantId);
    await clients[a]!.request('relay', { to: joined[b]!.participantId, blob: 'AAAA' });
    expect((await clients[b]!.next('relay')).from).toBe(joined[a]!.participantId);
    await clients[b]!.request('relay', { to: joined[a]!.participantId, blob: 'BBBB' });
    expect((await clients[a]!.next('relay')).blob).toBe('BBBB');
    const m = await metricsByWorker();
    expect(metric(m, 1, 'sotto_rooms_forwarded_upgrades_total')).toBe(metric(m, 1, 'sotto_rooms_upgrades_total'));
    expect(metric(m, 0, 'sotto_sfu_participants')).toBe(joined.length);
  });

  it('both workers answer the room’s SIP URI with the 302 (room names replicated to worker 1)', async () => {
    for (const owner of [0, 1]) {
      const r = await inviteRoom(phone, 'cluster-room', owner);
      expect(r.status, `worker ${owner}`).toBe(302);
      expect(r.contact).toBe(`<https://localhost:${HTTPS}/group.html?room=cluster-room>`);
      expect((await inviteRoom(phone, 'no-such-room', owner)).status).toBe(404);
    }
  });

  it('when worker 0 dies its rooms are gone everywhere; its replacement hosts new ones and still knows the sessions', async () => {
    const victim = workerPid(0);
    expect(victim).toBeDefined();
    process.kill(victim!, 'SIGKILL');
    // Every participant's socket closes with it, those piped through worker 1 too.
    await Promise.all(clients.map((c) => c.closed));
    // Worker 1 forgets the room as soon as the primary sees worker 0 exit.
    const forgotten = Date.now() + 3000;
    while ((await inviteRoom(phone, 'cluster-room', 1)).status !== 404) {
      if (Date.now() > forgotten) throw new Error('worker 1 still redirects to a room that died with worker 0');
      await new Promise((r) => setTimeout(r, 100));
    }
    const end = Date.now() + 15_000;
    let created = { status: 0, body: undefined as unknown };
    while (created.status !== 201) {
      if (Date.now() > end) throw new Error(`no new rooms host: ${JSON.stringify(created)}`);
      await new Promise((r) => setTimeout(r, 200));
      // A token from before: the session key comes from the cluster secret, not the process.
      created = await fresh('POST', '/api/rooms', { name: 'cluster-room' }, tokens[0]).catch(() => ({ status: 0, body: undefined }));
    }
    for (const owner of [0, 1]) expect((await inviteRoom(phone, 'cluster-room', owner)).status).toBe(302);
  }, 30_000);
});
