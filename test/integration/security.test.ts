/**
 * Security is part of done: a temporary ban after repeated authentication failures, per-source
 * rate limits, and logs that carry no secret and no identity.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RawUa } from '../helpers/raw-ua.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer | undefined;
const uas: RawUa[] = [];
afterEach(async () => {
  for (const u of uas.splice(0)) u.close();
  await server?.stop();
  server = undefined;
});

async function ua(user: string, password: string): Promise<RawUa> {
  const u = await new RawUa(user, password).bind();
  uas.push(u);
  return u;
}

function options(u: RawUa, port: number): void {
  u.send(
    `OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${u.port};branch=z9hG4bK${randomBytes(5).toString('hex')}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:${u.user}@localhost>;tag=o\r\nTo: <sip:localhost>\r\nCall-ID: ${randomBytes(5).toString('hex')}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    port,
  );
}

describe('abuse limits', () => {
  it('bans a source after repeated authentication failures, and logs the ban without the address', async () => {
    const lines: string[] = [];
    const PORT = 30060;
    server = await startTestServer({
      basePort: PORT,
      users: { alice: 'alice-secret-1' },
      overrides: { log: { level: 'info' }, security: { ban: { failures: 3, windowSeconds: 60, banSeconds: 300, exemptLoopback: false } } },
      logDestination: { write: (s) => void lines.push(s) },
    });
    const bad = await ua('alice', 'wrong-password');
    for (let i = 0; i < 3; i++) expect((await bad.register(PORT)).status).toBe(401);
    // Banned: even a correct registration from the same address goes unanswered.
    const good = await ua('alice', 'alice-secret-1');
    await expect(good.register(PORT)).rejects.toThrow(/no matching message/);
    expect(server.sip.location.lookup('alice')).toEqual([]);
    const log = lines.join('');
    expect(log).toMatch(/source banned after repeated authentication failures/);
    expect(log).not.toMatch(/127\.0\.0\.1"/);
    expect(server.sip.metrics().sotto_auth_bans_total).toBe(1);
  });

  it('limits the request rate of one source', async () => {
    const PORT = 30160;
    server = await startTestServer({ basePort: PORT, overrides: { security: { rateLimit: { perSecond: 5, burst: 10 } } } });
    const u = await ua('probe', '');
    for (let i = 0; i < 100; i++) options(u, PORT);
    let answered = 0;
    for (;;) {
      try {
        await u.next(() => true, 500);
        answered++;
      } catch {
        break;
      }
    }
    expect(answered).toBeGreaterThanOrEqual(10);
    expect(answered).toBeLessThanOrEqual(12);
    expect(server.sip.metrics().sotto_sip_dropped_total).toBeGreaterThanOrEqual(88);
  });
});

describe('logs (no secrets, no identities)', () => {
  it('a registration and a call at trace level leave no password, nonce, digest response, username or address in the logs', async () => {
    const lines: string[] = [];
    const PORT = 30260;
    server = await startTestServer({
      basePort: PORT,
      users: { alice: 'alice-secret-1', bob: 'bob-secret-22' },
      overrides: { log: { level: 'trace' } },
      logDestination: { write: (s) => void lines.push(s) },
    });
    const bob = await ua('bob', 'bob-secret-22');
    const reg = await bob.register(PORT);
    expect(reg.status).toBe(200);
    const wrong = await ua('alice', 'wrong-password');
    expect((await wrong.register(PORT)).status).toBe(401);
    const alice = await ua('alice', 'alice-secret-1');
    const callId = `c-${randomBytes(4).toString('hex')}`;
    alice.send(
      `INVITE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${alice.port};branch=z9hG4bK${randomBytes(5).toString('hex')}\r\nMax-Forwards: 70\r\n` +
        `From: <sip:alice@localhost>;tag=a\r\nTo: <sip:bob@localhost>\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`,
      PORT,
    );
    const challenge = await alice.next((m) => m.status === 407);
    const nonce = /nonce="([^"]+)"/.exec(challenge.header('proxy-authenticate')!)![1]!;
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of ['alice-secret-1', 'bob-secret-22', 'wrong-password', nonce, '"alice"', '"bob"', 'sip:alice@', 'sip:bob@', callId]) {
      expect(log, `log contains ${secret}`).not.toContain(secret);
    }
  });
});
