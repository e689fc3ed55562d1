import { describe, expect, it } from 'vitest';
import { getHeader, type Peer, type SipMessage, type SipRequest, type SipResponse, type TransportName } from '../../../server/src/sip/message.ts';
import { createResponse } from '../../../server/src/sip/response.ts';
import {
  InviteServerTransaction,
  NonInviteServerTransaction,
  type ServerTransactionUser,
} from '../../../server/src/sip/transaction/server-transaction.ts';
import { FakeTimers, timerValues, type TimerConfig, type TransactionEnv } from '../../../server/src/sip/transaction/timers.ts';

// --- helpers ----------------------------------------------------------------------------------

function request(method: string): SipRequest {
  return {
    kind: 'request',
    method,
    uri: 'sip:bob@example.com',
    headers: [
      { name: 'Via', value: 'SIP/2.0/UDP alice.example.com:5060;branch=z9hG4bKserver1' },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: '<sip:alice@example.com>;tag=a1' },
      { name: 'To', value: '<sip:bob@example.com>' },
      { name: 'Call-ID', value: 'call-2@example.com' },
      { name: 'CSeq', value: `7 ${method}` },
      { name: 'Timestamp', value: '54' },
    ],
    body: Buffer.alloc(0),
  };
}

function ackFor(req: SipRequest): SipRequest {
  return { ...request('ACK'), uri: req.uri };
}

const peer = (transport: TransportName): Peer => ({ transport, address: '192.0.2.1', port: 5060, connectionId: transport === 'udp' ? undefined : 'c1' });

function setup(opts: { transport?: TransportName; config?: Partial<TimerConfig>; send?: TransactionEnv['send'] } = {}) {
  const timers = new FakeTimers();
  const sent: { msg: SipMessage; dest: Peer; at: number }[] = [];
  const env: TransactionEnv = {
    timers,
    values: timerValues(opts.config),
    send:
      opts.send ??
      ((msg, dest) => {
        sent.push({ msg, dest, at: timers.now });
      }),
  };
  const events: string[] = [];
  const user: ServerTransactionUser = {
    onError: (_tx, reason) => events.push(`${reason} @${timers.now}`),
    onAck: (_tx, ack) => events.push(`ack ${ack.method} @${timers.now}`),
    onTerminated: () => events.push(`terminated @${timers.now}`),
  };
  const source = peer(opts.transport ?? 'udp');
  /** Send times of responses with that status. */
  const sendTimes = (status: number) => sent.filter((s) => s.msg.kind === 'response' && s.msg.status === status).map((s) => s.at);
  return { timers, sent, env, user, events, source, sendTimes };
}

function inviteTx(s: ReturnType<typeof setup>): InviteServerTransaction {
  const tx = new InviteServerTransaction(s.env, request('INVITE'), s.source, s.user);
  tx.start();
  return tx;
}

function nonInviteTx(s: ReturnType<typeof setup>, method = 'REGISTER'): NonInviteServerTransaction {
  const tx = new NonInviteServerTransaction(s.env, request(method), s.source, s.user);
  tx.start();
  return tx;
}

const resp = (req: SipRequest, status: number): SipResponse => createResponse(req, status, { toTag: status === 100 ? false : 'b1' });

// --- INVITE server transaction (§17.2.1) --------------------------------------------------------

describe('INVITE server transaction: Proceeding and 100 Trying (§17.2.1)', () => {
  it('sends 100 Trying after 200 ms if the TU has not responded, and resends it for retransmissions', () => {
    const s = setup();
    const tx = inviteTx(s);
    expect(tx.state).toBe('proceeding');
    tx.receiveRequest(tx.request); // nothing to resend yet
    s.timers.advance(199);
    expect(s.sent).toEqual([]);
    s.timers.advance(1);
    expect(s.sendTimes(100)).toEqual([200]);
    const trying = s.sent[0]!.msg as SipResponse;
    expect(getHeader(trying, 'To')).toBe('<sip:bob@example.com>'); // no tag on 100 (§8.2.6.2)
    expect(getHeader(trying, 'Timestamp')).toBe('54'); // §8.2.6.1
    expect(s.sent[0]!.dest).toEqual(s.source);
    s.timers.advance(300);
    tx.receiveRequest(tx.request);
    expect(s.sendTimes(100)).toEqual([200, 500]);
  });

  it('no automatic 100 when the TU responds within 200 ms; retransmissions get the latest provisional', () => {
    const s = setup();
    const tx = inviteTx(s);
    s.timers.advance(50);
    expect(tx.respond(resp(tx.request, 180))).toBe(true);
    s.timers.advance(1000);
    tx.receiveRequest(tx.request);
    expect(tx.respond(resp(tx.request, 183))).toBe(true);
    tx.receiveRequest(tx.request);
    expect(s.sent.map((x) => `${(x.msg as SipResponse).status}@${x.at}`)).toEqual(['180@50', '180@1050', '183@1050', '183@1050']);
    expect(s.timers.size).toBe(0); // Proceeding has no timer once the TU has answered
  });

  it.each([
    [0, [0]],
    [Infinity, []],
  ])('tryingDelay %s', (tryingDelay, times) => {
    const s = setup({ config: { tryingDelay } });
    inviteTx(s);
    s.timers.advance(10_000);
    expect(s.sendTimes(100)).toEqual(times);
  });
});

describe('INVITE server transaction: 300-699, Timers G and H (§17.2.1)', () => {
  it.each([
    // config, send times of the final response (G doubling up to T2), Timer H = 64*T1
    [{}, [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500], 32_000],
    [{ T1: 100, T2: 800 }, [0, 100, 300, 700, 1500, 2300, 3100, 3900, 4700, 5500, 6300], 6400],
  ])('UDP %j: retransmits at %j, Timer H at %i', (config, times, timerH) => {
    const s = setup({ config });
    const tx = inviteTx(s);
    expect(tx.respond(resp(tx.request, 486))).toBe(true);
    expect(tx.state).toBe('completed');
    s.timers.advance(timerH - 1);
    expect(s.sendTimes(486)).toEqual(times);
    expect(s.events).toEqual([]);
    s.timers.advance(1);
    expect(tx.state).toBe('terminated');
    expect(s.events).toEqual([`timeout @${timerH}`, `terminated @${timerH}`]);
    s.timers.advance(100_000);
    expect(s.sendTimes(486)).toEqual(times);
    expect(s.timers.size).toBe(0);
  });

  it.each(['tcp', 'tls', 'ws', 'wss'] as const)('%s: no Timer G, Timer H still waits 64*T1 for the ACK', (transport) => {
    const s = setup({ transport });
    const tx = inviteTx(s);
    tx.respond(resp(tx.request, 404));
    s.timers.advance(31_999);
    expect(s.sendTimes(404)).toEqual([0]);
    s.timers.advance(1);
    expect(s.events).toEqual(['timeout @32000', 'terminated @32000']);
  });

  it('a retransmitted INVITE in Completed gets the final response again', () => {
    const s = setup();
    const tx = inviteTx(s);
    tx.respond(resp(tx.request, 603));
    s.timers.advance(100);
    tx.receiveRequest(tx.request);
    expect(s.sendTimes(603)).toEqual([0, 100]);
  });

  it('a later response from the TU is not sent', () => {
    const s = setup();
    const tx = inviteTx(s);
    tx.respond(resp(tx.request, 487));
    expect(tx.respond(resp(tx.request, 200))).toBe(false);
    expect(tx.respond(resp(tx.request, 180))).toBe(false);
    expect(s.sent).toHaveLength(1);
  });
});

describe('INVITE server transaction: ACK, Confirmed and Timer I (§17.2.1)', () => {
  it.each([
    ['udp', 5000],
    ['tcp', 0],
  ] as const)('%s: the ACK stops G and H; ACKs absorbed; Terminated after I = %i ms', (transport, timerI) => {
    const s = setup({ transport });
    const tx = inviteTx(s);
    tx.respond(resp(tx.request, 480));
    s.timers.advance(2000);
    tx.receiveAck(ackFor(tx.request));
    const sentBefore = s.sent.length;
    if (timerI > 0) {
      expect(tx.state).toBe('confirmed');
      tx.receiveAck(ackFor(tx.request)); // retransmitted ACK: absorbed
      tx.receiveRequest(tx.request); // retransmitted INVITE: absorbed
      s.timers.advance(timerI - 1);
      expect(tx.state).toBe('confirmed');
      s.timers.advance(1);
    }
    expect(tx.state).toBe('terminated');
    expect(s.events).toEqual([`terminated @${2000 + timerI}`]);
    s.timers.advance(100_000);
    expect(s.sent.length).toBe(sentBefore);
    expect(s.timers.size).toBe(0);
  });

  it('an ACK in Proceeding is ignored', () => {
    const s = setup();
    const tx = inviteTx(s);
    tx.receiveAck(ackFor(tx.request));
    expect(tx.state).toBe('proceeding');
  });
});

describe('INVITE server transaction: 2xx, Accepted and Timer L (RFC 6026 §8.5-§8.7)', () => {
  it.each(['udp', 'tcp'] as const)('%s: INVITE retransmissions absorbed, ACK to TU, TU 2xx sent, Terminated after L', (transport) => {
    const s = setup({ transport });
    const tx = inviteTx(s);
    s.timers.advance(100);
    tx.respond(resp(tx.request, 180));
    tx.respond(resp(tx.request, 200));
    expect(tx.state).toBe('accepted');
    s.timers.advance(500);
    tx.receiveRequest(tx.request); // absorbed: the TU retransmits 2xx, not the transaction
    expect(s.sendTimes(200)).toEqual([100]);
    expect(tx.respond(resp(tx.request, 200))).toBe(true); // TU's 2xx retransmission
    expect(tx.respond(resp(tx.request, 486))).toBe(false);
    expect(s.sendTimes(200)).toEqual([100, 600]);
    tx.receiveAck(ackFor(tx.request));
    expect(s.events).toEqual(['ack ACK @600']);
    s.timers.advance(32_000 - 501);
    expect(tx.state).toBe('accepted');
    s.timers.advance(1);
    expect(tx.state).toBe('terminated');
    expect(s.events.at(-1)).toBe('terminated @32100');
    expect(s.sendTimes(100)).toEqual([]); // the 180 came in time
    expect(s.timers.size).toBe(0);
  });

  it('a transport error in Accepted is reported but the transaction stays', () => {
    let fail = false;
    const s = setup({
      send: () => {
        if (fail) throw new Error('EPIPE');
      },
    });
    const tx = inviteTx(s);
    tx.respond(resp(tx.request, 200));
    fail = true;
    tx.respond(resp(tx.request, 200));
    expect(tx.state).toBe('accepted');
    expect(s.events).toEqual(['transport @0']);
  });
});

describe('INVITE server transaction: transport errors (§17.2.4)', () => {
  it.each([180, 486])('failing to send a %i terminates the transaction', (status) => {
    const s = setup({
      send: () => {
        throw new Error('EHOSTUNREACH');
      },
    });
    const tx = inviteTx(s);
    tx.respond(resp(tx.request, status));
    expect(tx.state).toBe('terminated');
    expect(s.events).toEqual(['transport @0', 'terminated @0']);
    expect(s.timers.size).toBe(0);
  });
});

// --- non-INVITE server transaction (§17.2.2) ----------------------------------------------------

describe('non-INVITE server transaction (§17.2.2)', () => {
  it('Trying: retransmissions are discarded until the TU answers', () => {
    const s = setup();
    const tx = nonInviteTx(s);
    expect(tx.state).toBe('trying');
    tx.receiveRequest(tx.request);
    s.timers.advance(10_000);
    expect(s.sent).toEqual([]);
    expect(s.timers.size).toBe(0);
  });

  it('Proceeding: retransmissions get the last provisional response', () => {
    const s = setup();
    const tx = nonInviteTx(s, 'OPTIONS');
    tx.respond(resp(tx.request, 100));
    expect(tx.state).toBe('proceeding');
    s.timers.advance(500);
    tx.receiveRequest(tx.request);
    expect(s.sendTimes(100)).toEqual([0, 500]);
  });

  it.each([
    // transport, status, Timer J
    ['udp', 200, 32_000],
    ['udp', 401, 32_000],
    ['tcp', 200, 0],
    ['tls', 403, 0],
    ['ws', 200, 0],
    ['wss', 200, 0],
  ] as const)('%s %i: Completed, retransmissions answered, Terminated after J = %i ms', (transport, status, timerJ) => {
    const s = setup({ transport });
    const tx = nonInviteTx(s);
    s.timers.advance(10);
    expect(tx.respond(resp(tx.request, status))).toBe(true);
    if (timerJ > 0) {
      expect(tx.state).toBe('completed');
      s.timers.advance(1000);
      tx.receiveRequest(tx.request);
      expect(s.sendTimes(status)).toEqual([10, 1010]);
      expect(tx.respond(resp(tx.request, 500))).toBe(false); // §17.2.2: discarded
      s.timers.advance(timerJ - 1001);
      expect(tx.state).toBe('completed');
      s.timers.advance(1);
    }
    expect(tx.state).toBe('terminated');
    expect(s.events).toEqual([`terminated @${10 + timerJ}`]);
    expect(s.sent.filter((x) => x.msg.kind === 'response').every((x) => x.dest === s.source)).toBe(true);
    expect(s.timers.size).toBe(0);
  });

  it('custom T1 scales Timer J', () => {
    const s = setup({ config: { T1: 100 } });
    const tx = nonInviteTx(s);
    tx.respond(resp(tx.request, 200));
    s.timers.advance(6399);
    expect(tx.state).toBe('completed');
    s.timers.advance(1);
    expect(tx.state).toBe('terminated');
  });

  it('a transport error terminates and informs the TU', () => {
    const s = setup({
      send: () => {
        throw new Error('EPIPE');
      },
    });
    const tx = nonInviteTx(s);
    tx.respond(resp(tx.request, 200));
    expect(tx.state).toBe('terminated');
    expect(s.events).toEqual(['transport @0', 'terminated @0']);
    expect(s.timers.size).toBe(0);
  });

  it('rejects INVITE and ACK; the INVITE class rejects others', () => {
    const s = setup();
    expect(() => new NonInviteServerTransaction(s.env, request('INVITE'), s.source)).toThrow(TypeError);
    expect(() => new NonInviteServerTransaction(s.env, request('ACK'), s.source)).toThrow(TypeError);
    expect(() => new InviteServerTransaction(s.env, request('OPTIONS'), s.source)).toThrow(TypeError);
  });

  it('responses go to an explicit destination when one is given', () => {
    const s = setup();
    const dest: Peer = { transport: 'udp', address: '198.51.100.7', port: 5062 };
    const tx = new NonInviteServerTransaction(s.env, request('OPTIONS'), s.source, s.user, '', dest);
    tx.respond(resp(tx.request, 200));
    expect(s.sent[0]!.dest).toBe(dest);
  });
});

describe('stateless challenges to non-INVITE requests (§8.2.7)', () => {
  it('non-INVITE: the 401 goes once and no Timer J holds the request', () => {
    const s = setup();
    const tx = nonInviteTx(s, 'REGISTER');
    expect(tx.respondStateless(resp(tx.request, 401))).toBe(true);
    expect(tx.state).toBe('terminated');
    expect(s.timers.size).toBe(0);
    tx.receiveRequest(tx.request);
    expect(s.sendTimes(401)).toEqual([0]);
    expect(s.events).toEqual(['terminated @0']);
  });

  it('refuses provisional and 2xx responses: those need the transaction', () => {
    const s = setup();
    expect(() => nonInviteTx(s).respondStateless(resp(request('OPTIONS'), 200))).toThrow(RangeError);
  });
});
