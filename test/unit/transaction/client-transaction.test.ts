import { describe, expect, it } from 'vitest';
import { getHeader, getHeaderLines, type Peer, type SipMessage, type SipRequest, type SipResponse, type TransportName } from '../../../server/src/sip/message.ts';
import { createResponse } from '../../../server/src/sip/response.ts';
import {
  createAck,
  createCancel,
  InviteClientTransaction,
  NonInviteClientTransaction,
  type ClientTransaction,
  type ClientTransactionUser,
} from '../../../server/src/sip/transaction/client-transaction.ts';
import { FakeTimers, timerValues, type TimerConfig, type TransactionEnv } from '../../../server/src/sip/transaction/timers.ts';

// --- helpers ----------------------------------------------------------------------------------

function request(method: string, opts: { branch?: string; extraVia?: boolean; routes?: string[] } = {}): SipRequest {
  const headers = [{ name: 'Via', value: `SIP/2.0/UDP proxy.example.com:5060;branch=${opts.branch ?? 'z9hG4bKclient1'}` }];
  if (opts.extraVia) headers.push({ name: 'Via', value: 'SIP/2.0/UDP alice.example.com:5060;branch=z9hG4bKalice' });
  for (const r of opts.routes ?? []) headers.push({ name: 'Route', value: r });
  headers.push(
    { name: 'Max-Forwards', value: '69' },
    { name: 'From', value: '"Alice" <sip:alice@example.com>;tag=fromtag' },
    { name: 'To', value: '<sip:bob@example.com>' },
    { name: 'Call-ID', value: 'call-1@example.com' },
    { name: 'CSeq', value: `42 ${method}` },
    { name: 'Contact', value: '<sip:alice@192.0.2.1>' },
  );
  return { kind: 'request', method, uri: 'sip:bob@192.0.2.2', headers, body: Buffer.from(method === 'INVITE' ? 'v=0\r\n' : '') };
}

function response(req: SipRequest, status: number, toTag = 'totag'): SipResponse {
  return createResponse(req, status, { toTag: status === 100 ? false : toTag });
}

const peer = (transport: TransportName): Peer => ({ transport, address: '192.0.2.2', port: 5060 });

interface Recorder extends ClientTransactionUser {
  events: string[];
  responses: SipResponse[];
  synthetic: (SipResponse | undefined)[];
}

function recorder(timers: FakeTimers): Recorder {
  const r: Recorder = {
    events: [],
    responses: [],
    synthetic: [],
    onResponse(res) {
      r.responses.push(res);
      r.events.push(`response ${res.status} @${timers.now}`);
    },
    onTimeout(_tx, res) {
      r.synthetic.push(res);
      r.events.push(`timeout @${timers.now}`);
    },
    onTransportError(_tx, _err, res) {
      r.synthetic.push(res);
      r.events.push(`transport-error @${timers.now}`);
    },
    onTerminated() {
      r.events.push(`terminated @${timers.now}`);
    },
  };
  return r;
}

function setup(opts: { transport?: TransportName; config?: Partial<TimerConfig>; send?: TransactionEnv['send'] } = {}) {
  const timers = new FakeTimers();
  const sent: { msg: SipMessage; dest: Peer; at: number }[] = [];
  const terminated: string[] = [];
  const env: TransactionEnv = {
    timers,
    values: timerValues(opts.config),
    send:
      opts.send ??
      ((msg, dest) => {
        sent.push({ msg, dest, at: timers.now });
      }),
    terminated: (tx) => terminated.push(tx.kind),
  };
  const user = recorder(timers);
  const dest = peer(opts.transport ?? 'udp');
  const sendTimes = (method: string) => sent.filter((s) => s.msg.kind === 'request' && s.msg.method === method).map((s) => s.at);
  return { timers, sent, env, user, dest, terminated, sendTimes };
}

function invite(s: ReturnType<typeof setup>, req = request('INVITE')): InviteClientTransaction {
  const tx = new InviteClientTransaction(s.env, req, s.dest, s.user);
  tx.start();
  return tx;
}

function nonInvite(s: ReturnType<typeof setup>, method = 'REGISTER'): NonInviteClientTransaction {
  const tx = new NonInviteClientTransaction(s.env, request(method), s.dest, s.user);
  tx.start();
  return tx;
}

// --- INVITE client transaction (§17.1.1) --------------------------------------------------------

describe('INVITE client transaction: Timers A and B (§17.1.1.2)', () => {
  it.each([
    // T1, expected send times (Timer A doubling from T1, no cap), Timer B = 64*T1
    [500, [0, 500, 1500, 3500, 7500, 15_500, 31_500], 32_000],
    [100, [0, 100, 300, 700, 1500, 3100, 6300], 6400],
    [1000, [0, 1000, 3000, 7000, 15_000, 31_000, 63_000], 64_000],
  ])('UDP, T1=%i: sends at %j, times out at %i', (T1, times, timeoutAt) => {
    const s = setup({ config: { T1 } });
    const tx = invite(s);
    expect(tx.state).toBe('calling');
    s.timers.advance(timeoutAt - 1);
    expect(s.sendTimes('INVITE')).toEqual(times);
    expect(tx.state).toBe('calling');
    s.timers.advance(1);
    expect(tx.state).toBe('terminated');
    expect(s.user.events).toEqual([`timeout @${timeoutAt}`, `terminated @${timeoutAt}`]);
    expect(s.user.synthetic[0]?.status).toBe(408);
    expect(getHeader(s.user.synthetic[0]!, 'Call-ID')).toBe('call-1@example.com');
    s.timers.advance(1_000_000);
    expect(s.sendTimes('INVITE')).toEqual(times); // nothing after Terminated, and no ACK
    expect(s.timers.size).toBe(0);
    expect(s.terminated).toEqual(['invite-client']);
  });

  it.each(['tcp', 'tls', 'ws', 'wss'] as const)('%s: sends once (no Timer A), Timer B still 64*T1', (transport) => {
    const s = setup({ transport });
    const tx = invite(s);
    s.timers.advance(31_999);
    expect(s.sendTimes('INVITE')).toEqual([0]);
    s.timers.advance(1);
    expect(tx.state).toBe('terminated');
    expect(s.user.events[0]).toBe('timeout @32000');
  });

  it('a provisional response stops retransmissions and Timer B (Proceeding has no timeout)', () => {
    const s = setup();
    const tx = invite(s);
    s.timers.advance(700);
    tx.receiveResponse(response(tx.request, 100));
    expect(tx.state).toBe('proceeding');
    tx.receiveResponse(response(tx.request, 180));
    s.timers.advance(200_000);
    expect(s.sendTimes('INVITE')).toEqual([0, 500]);
    expect(tx.state).toBe('proceeding');
    expect(s.user.events).toEqual(['response 100 @700', 'response 180 @700']);
    expect(s.timers.size).toBe(0);
  });

  it('start() twice throws', () => {
    const s = setup();
    const tx = invite(s);
    expect(() => tx.start()).toThrow();
  });
});

describe('INVITE client transaction: non-2xx final, ACK and Timer D (§17.1.1.2, §17.1.1.3)', () => {
  it.each([
    ['udp', 32_000],
    ['tcp', 0],
  ] as const)('%s: Completed, ACK sent, retransmissions answered with ACK, Terminated after %i ms', (transport, timerD) => {
    const s = setup({ transport });
    const tx = invite(s);
    s.timers.advance(100);
    tx.receiveResponse(response(tx.request, 180));
    s.timers.advance(100);
    const busy = response(tx.request, 486);
    tx.receiveResponse(busy);
    expect(s.user.events).toEqual(
      timerD === 0
        ? ['response 180 @100', 'response 486 @200', 'terminated @200']
        : ['response 180 @100', 'response 486 @200'],
    );
    expect(s.sendTimes('ACK')).toEqual([200]);
    expect(s.sent.at(-1)!.dest).toEqual(s.dest);
    if (timerD > 0) {
      expect(tx.state).toBe('completed');
      s.timers.advance(1000);
      tx.receiveResponse(busy); // retransmission: ACK again, TU not told
      tx.receiveResponse(response(tx.request, 180)); // late provisional: ignored
      expect(s.sendTimes('ACK')).toEqual([200, 1200]);
      expect(s.user.responses).toHaveLength(2);
      expect(s.sent.filter((m) => m.msg.kind === 'request' && m.msg.method === 'ACK').map((m) => m.msg)).toEqual([tx.ack, tx.ack]);
      s.timers.advance(timerD - 1001);
      expect(tx.state).toBe('completed');
      s.timers.advance(1);
    }
    expect(tx.state).toBe('terminated');
    expect(s.user.events.at(-1)).toBe(`terminated @${200 + timerD}`);
    expect(s.timers.size).toBe(0);
  });

  it('a final response in Calling also stops Timer A and B', () => {
    const s = setup();
    const tx = invite(s);
    s.timers.advance(600);
    tx.receiveResponse(response(tx.request, 503));
    s.timers.advance(31_999);
    expect(s.sendTimes('INVITE')).toEqual([0, 500]);
    expect(s.user.events).toEqual(['response 503 @600']);
  });

  it('the ACK copies Request-URI, Call-ID, From, CSeq number, top Via and Route; To comes from the response', () => {
    const s = setup();
    const req = request('INVITE', { extraVia: true, routes: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'] });
    const tx = invite(s, req);
    const res = response(req, 404, 'xyz');
    tx.receiveResponse(res);
    const ack = s.sent.at(-1)!.msg as SipRequest;
    expect(ack.kind).toBe('request');
    expect(ack.method).toBe('ACK');
    expect(ack.uri).toBe(req.uri);
    expect(getHeaderLines(ack, 'Via')).toEqual(['SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bKclient1']);
    expect(getHeaderLines(ack, 'Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(getHeader(ack, 'From')).toBe(getHeader(req, 'From'));
    expect(getHeader(ack, 'To')).toBe('<sip:bob@example.com>;tag=xyz');
    expect(getHeader(ack, 'Call-ID')).toBe('call-1@example.com');
    expect(getHeader(ack, 'CSeq')).toBe('42 ACK');
    expect(getHeader(ack, 'Max-Forwards')).toBe('69');
    expect(getHeader(ack, 'Contact')).toBeUndefined();
    expect(ack.body.length).toBe(0);
    expect(createAck(req, res)).toEqual(ack);
  });

  it('the top Via is the first value even when one Via line carries several', () => {
    const req = request('INVITE');
    req.headers[0] = { name: 'Via', value: 'SIP/2.0/UDP a.example.com;branch=z9hG4bKa, SIP/2.0/UDP b.example.com;branch=z9hG4bKb' };
    const ack = createAck(req, response(req, 500));
    expect(getHeaderLines(ack, 'Via')).toEqual(['SIP/2.0/UDP a.example.com;branch=z9hG4bKa']);
  });
});

describe('INVITE client transaction: 2xx, Accepted and Timer M (RFC 6026 §8.4)', () => {
  it.each(['udp', 'tcp'] as const)('%s: 2xx retransmissions and other forks reach the TU until Timer M', (transport) => {
    const s = setup({ transport });
    const tx = invite(s);
    s.timers.advance(1000);
    tx.receiveResponse(response(tx.request, 200, 'fork1'));
    expect(tx.state).toBe('accepted');
    s.timers.advance(500);
    tx.receiveResponse(response(tx.request, 200, 'fork1')); // retransmission
    tx.receiveResponse(response(tx.request, 200, 'fork2')); // another fork
    tx.receiveResponse(response(tx.request, 486)); // not a 2xx: discarded
    tx.receiveResponse(response(tx.request, 180)); // discarded
    expect(s.user.responses.map((r) => [r.status, getHeader(r, 'To')])).toEqual([
      [200, '<sip:bob@example.com>;tag=fork1'],
      [200, '<sip:bob@example.com>;tag=fork1'],
      [200, '<sip:bob@example.com>;tag=fork2'],
    ]);
    expect(s.sendTimes('ACK')).toEqual([]); // the ACK for 2xx is the TU's, not the transaction's
    expect(s.sendTimes('INVITE')).toEqual(transport === 'udp' ? [0, 500] : [0]);
    s.timers.advance(32_000 - 501);
    expect(tx.state).toBe('accepted');
    s.timers.advance(1);
    expect(tx.state).toBe('terminated');
    expect(s.user.events.at(-1)).toBe('terminated @33000');
    tx.receiveResponse(response(tx.request, 200, 'fork1'));
    expect(s.user.responses).toHaveLength(3);
  });
});

describe('INVITE client transaction: transport errors (§17.1.4)', () => {
  it('a synchronous send failure terminates at once with a 503 for the TU', () => {
    const s = setup({
      send: () => {
        throw new Error('ENETUNREACH');
      },
    });
    const tx = invite(s);
    expect(tx.state).toBe('terminated');
    expect(s.user.events).toEqual(['transport-error @0', 'terminated @0']);
    expect(s.user.synthetic[0]?.status).toBe(503);
    expect(s.timers.size).toBe(0);
  });

  it('a rejected send promise is a transport error too', async () => {
    const s = setup({ transport: 'tcp', send: () => Promise.reject(new Error('ECONNREFUSED')) });
    const tx = invite(s);
    expect(tx.state).toBe('calling');
    await Promise.resolve();
    await Promise.resolve();
    expect(tx.state).toBe('terminated');
    expect(s.user.events).toEqual(['transport-error @0', 'terminated @0']);
  });

  it('failing to send the ACK after a final response carries no synthetic response', () => {
    let n = 0;
    const s = setup({
      send: () => {
        if (n++ > 0) throw new Error('gone');
      },
    });
    const tx = invite(s);
    tx.receiveResponse(response(tx.request, 404));
    expect(tx.state).toBe('terminated');
    expect(s.user.events).toEqual(['response 404 @0', 'transport-error @0', 'terminated @0']);
    expect(s.user.synthetic).toEqual([undefined]);
  });

  it('terminate() abandons silently', () => {
    const s = setup();
    const tx = invite(s);
    tx.terminate();
    tx.terminate();
    s.timers.advance(100_000);
    expect(s.sendTimes('INVITE')).toEqual([0]);
    expect(s.user.events).toEqual(['terminated @0']);
  });
});

// --- non-INVITE client transaction (§17.1.2) ----------------------------------------------------

describe('non-INVITE client transaction: Timers E and F (§17.1.2.2)', () => {
  it.each([
    // config, expected send times, Timer F
    [{}, [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500], 32_000],
    [{ T1: 100, T2: 400 }, [0, 100, 300, 700, 1100, 1500, 1900, 2300, 2700, 3100, 3500, 3900, 4300, 4700, 5100, 5500, 5900, 6300], 6400],
    [{ T2: 1000 }, [0, 500, 1500, 2500, 3500, 4500, 5500, 6500, 7500, 8500, 9500, 10_500, 11_500, 12_500, 13_500, 14_500, 15_500, 16_500, 17_500, 18_500, 19_500, 20_500, 21_500, 22_500, 23_500, 24_500, 25_500, 26_500, 27_500, 28_500, 29_500, 30_500, 31_500], 32_000],
  ])('UDP %j: E doubles up to T2, F times out', (config, times, timeoutAt) => {
    const s = setup({ config });
    const tx = nonInvite(s);
    expect(tx.state).toBe('trying');
    s.timers.advance(timeoutAt - 1);
    expect(s.sendTimes('REGISTER')).toEqual(times);
    s.timers.advance(1);
    expect(tx.state).toBe('terminated');
    expect(s.user.events).toEqual([`timeout @${timeoutAt}`, `terminated @${timeoutAt}`]);
    expect(s.user.synthetic[0]?.status).toBe(408);
    expect(s.timers.size).toBe(0);
  });

  it('in Proceeding, E keeps firing and is reset to T2', () => {
    const s = setup();
    const tx = nonInvite(s, 'OPTIONS');
    s.timers.advance(600);
    tx.receiveResponse(response(tx.request, 100));
    expect(tx.state).toBe('proceeding');
    s.timers.advance(31_399);
    expect(s.sendTimes('OPTIONS')).toEqual([0, 500, 1500, 5500, 9500, 13_500, 17_500, 21_500, 25_500, 29_500]);
    s.timers.advance(1);
    expect(s.user.events).toEqual(['response 100 @600', 'timeout @32000', 'terminated @32000']);
  });

  it.each(['tcp', 'tls', 'ws', 'wss'] as const)('%s: no retransmissions, F still fires', (transport) => {
    const s = setup({ transport });
    nonInvite(s);
    s.timers.advance(32_000);
    expect(s.sendTimes('REGISTER')).toEqual([0]);
    expect(s.user.events).toEqual(['timeout @32000', 'terminated @32000']);
  });
});

describe('non-INVITE client transaction: final responses and Timer K (§17.1.2.2)', () => {
  it.each([
    ['udp', 200, 5000],
    ['udp', 404, 5000],
    ['tcp', 200, 0],
    ['ws', 503, 0],
  ] as const)('%s %i: Completed, retransmissions absorbed, Terminated after K = %i ms', (transport, status, timerK) => {
    const s = setup({ transport });
    const tx = nonInvite(s);
    s.timers.advance(100);
    tx.receiveResponse(response(tx.request, status));
    expect(s.user.responses.map((r) => r.status)).toEqual([status]);
    if (timerK > 0) {
      expect(tx.state).toBe('completed');
      tx.receiveResponse(response(tx.request, status));
      tx.receiveResponse(response(tx.request, 100));
      expect(s.user.responses).toHaveLength(1);
      s.timers.advance(timerK - 1);
      expect(tx.state).toBe('completed');
      s.timers.advance(1);
    }
    expect(tx.state).toBe('terminated');
    expect(s.user.events.at(-1)).toBe(`terminated @${100 + timerK}`);
    expect(s.sendTimes('REGISTER')).toEqual([0]);
    expect(s.timers.size).toBe(0);
  });

  it('the non-INVITE classes refuse INVITE and ACK, and vice versa', () => {
    const s = setup();
    expect(() => new NonInviteClientTransaction(s.env, request('INVITE'), s.dest, s.user)).toThrow(TypeError);
    expect(() => new NonInviteClientTransaction(s.env, request('ACK'), s.dest, s.user)).toThrow(TypeError);
    expect(() => new InviteClientTransaction(s.env, request('BYE'), s.dest, s.user)).toThrow(TypeError);
  });

  it('a transport error on a retransmission terminates with a 503', () => {
    let n = 0;
    const s = setup({
      send: () => {
        if (n++ === 2) throw new Error('EHOSTUNREACH');
      },
    });
    const tx: ClientTransaction = nonInvite(s);
    s.timers.advance(10_000);
    expect(tx.state).toBe('terminated');
    expect(s.user.events).toEqual(['transport-error @1500', 'terminated @1500']);
    expect(s.user.synthetic[0]?.status).toBe(503);
    expect(s.timers.size).toBe(0);
  });
});

describe('createCancel (§9.1)', () => {
  it('copies Request-URI, Call-ID, From, To, CSeq number, top Via and Route; method CANCEL', () => {
    const req = request('INVITE', { extraVia: true, routes: ['<sip:p1.example.com;lr>'] });
    const cancel = createCancel(req);
    expect(cancel.method).toBe('CANCEL');
    expect(cancel.uri).toBe(req.uri);
    expect(getHeaderLines(cancel, 'Via')).toEqual([getHeaderLines(req, 'Via')[0]]);
    expect(getHeaderLines(cancel, 'Route')).toEqual(['<sip:p1.example.com;lr>']);
    for (const h of ['From', 'To', 'Call-ID', 'Max-Forwards']) expect(getHeader(cancel, h)).toBe(getHeader(req, h));
    expect(getHeader(cancel, 'CSeq')).toBe('42 CANCEL');
    expect(cancel.body.length).toBe(0);
  });
});
