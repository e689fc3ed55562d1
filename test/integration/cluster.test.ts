/**
 * sip.workers = 2: two worker processes share the SIP ports. Each message goes to the worker
 * that owns its Call-ID, registrations made through one worker are known to the other, and a
 * worker that dies is replaced with the current bindings. Driven by sipp over UDP and TCP.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server.ts';
import { runSipp, startSipp } from '../helpers/sipp.ts';
import { REPLICATION_DELAY_MS } from '../../server/src/cluster/worker-link.ts';

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
};

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
