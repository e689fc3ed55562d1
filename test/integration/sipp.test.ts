/**
 * sipp (Debian's sip-tester) registers with digest auth and calls through Sotto's proxy to a sipp
 * UAS, over UDP and TCP (RFC 3261 §10, §16, §22).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSipp, startSipp } from '../helpers/sipp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const BASE = 25060;
const TARGET = `127.0.0.1:${BASE}`;
const USERS = { alice: 'alice-secret-1', bob: 'bob-secret-22', uas: 'uas-secret-333' };
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ basePort: BASE, users: USERS });
});
afterAll(async () => {
  await server?.stop();
});

describe.each(['udp', 'tcp'] as const)('sipp over %s', (transport) => {
  const port = transport === 'udp' ? 25100 : 25200;

  it('registers with digest authentication (§10, §22)', async () => {
    const r = await runSipp({ scenario: 'register.xml', target: TARGET, transport, localPort: port, users: [['alice', USERS.alice]], keys: { domain: 'localhost' } });
    expect(r.errors).toBe('');
    expect(r.successful).toBe(1);
    const bindings = server.sip.location.lookup('alice');
    expect(bindings.map((b) => b.contact)).toContain(`sip:alice@127.0.0.1:${port};transport=${transport.toUpperCase()}`);
  });

  it('refuses a wrong password and registers nothing', async () => {
    const r = await runSipp({ scenario: 'register.xml', target: TARGET, transport, localPort: port + 1, users: [['bob', 'not-the-password']], keys: { domain: 'localhost' }, timeoutS: 5 });
    expect(r.successful).toBe(0);
    expect(server.sip.location.lookup('bob')).toEqual([]);
  });

  it('calls a registered sipp UAS through the proxy (§16), INVITE to BYE', async () => {
    const uasPort = port + 10;
    const reg = await runSipp({ scenario: 'register.xml', target: TARGET, transport, localPort: uasPort, users: [['uas', USERS.uas]], keys: { domain: 'localhost' } });
    expect(reg.successful).toBe(1);
    const uas = startSipp({ scenario: 'uas.xml', target: TARGET, transport, localPort: uasPort, calls: 3, timeoutS: 30 });
    await new Promise((r) => setTimeout(r, 500));
    const uac = await runSipp({
      scenario: 'uac_call.xml',
      target: TARGET,
      transport,
      localPort: port + 20,
      users: [['alice', USERS.alice]],
      keys: { domain: 'localhost', callee: 'uas' },
      calls: 3,
      rate: 5,
    });
    const uasResult = await uas.stop();
    expect(uac.errors).toBe('');
    expect(uac.successful).toBe(3);
    expect(uac.failed).toBe(0);
    expect(uasResult.successful).toBe(3);
    // Every response context and transaction of those calls is released.
    expect(server.sip.metrics().sotto_sip_proxy_contexts).toBe(0);
  });
});
