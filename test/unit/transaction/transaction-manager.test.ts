import { describe, expect, it } from 'vitest';
import { getHeader, type Peer, type SipMessage, type SipRequest, type SipResponse, type TransportName } from '../../../server/src/sip/message.ts';
import { createResponse } from '../../../server/src/sip/response.ts';
import { createCancel, type ClientTransactionUser } from '../../../server/src/sip/transaction/client-transaction.ts';
import type { InviteServerTransaction, ServerTransaction } from '../../../server/src/sip/transaction/server-transaction.ts';
import { FakeTimers, TimerWheel } from '../../../server/src/sip/transaction/timers.ts';
import { TransactionManager, type TransactionUser } from '../../../server/src/sip/transaction/transaction-manager.ts';

// --- helpers ----------------------------------------------------------------------------------

interface ReqOpts {
  /** null: no branch parameter at all (RFC 2543). */
  branch?: string | null;
  sentBy?: string;
  uri?: string;
  toTag?: string;
  fromTag?: string;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
}

function request(method: string, o: ReqOpts = {}): SipRequest {
  const branch = o.branch === undefined ? 'z9hG4bK-uac-1' : o.branch;
  return {
    kind: 'request',
    method,
    uri: o.uri ?? 'sip:bob@example.com',
    headers: [
      { name: 'Via', value: `SIP/2.0/UDP ${o.sentBy ?? 'alice.example.com:5060'}${branch === null ? '' : `;branch=${branch}`}` },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:alice@example.com>;tag=${o.fromTag ?? 'a1'}` },
      { name: 'To', value: `<sip:bob@example.com>${o.toTag ? `;tag=${o.toTag}` : ''}` },
      { name: 'Call-ID', value: o.callId ?? 'call-3@example.com' },
      { name: 'CSeq', value: `${o.cseq ?? 1} ${o.cseqMethod ?? method}` },
    ],
    body: Buffer.alloc(0),
  };
}

/** An ACK for a response: To (with tag) from the response, same branch unless given. */
function ackFor(inv: SipRequest, res: SipResponse, o: ReqOpts = {}): SipRequest {
  const ack = request('ACK', { cseq: 1, ...o });
  ack.headers = ack.headers.map((h) => (h.name === 'Via' && o.branch === undefined ? { ...h, value: getHeader(inv, 'Via')! } : h));
  ack.headers = ack.headers.map((h) => (h.name === 'To' ? { ...h, value: getHeader(res, 'To')! } : h));
  return ack;
}

const source: Peer = { transport: 'udp', address: '192.0.2.1', port: 5060 };
const peer = (transport: TransportName): Peer => ({ transport, address: '192.0.2.9', port: 5060 });

function setup(opts: { send?: (msg: SipMessage, dest: Peer) => void; compactCompleted?: boolean } = {}) {
  const timers = new FakeTimers();
  const sent: { msg: SipMessage; dest: Peer; at: number }[] = [];
  const log: string[] = [];
  const requests: ServerTransaction[] = [];
  const acks: { ack: SipRequest; tx: InviteServerTransaction | undefined }[] = [];
  const strays: SipResponse[] = [];
  const tu: TransactionUser = {
    onRequest: (req, tx) => {
      requests.push(tx);
      log.push(`request ${req.method}`);
    },
    onAck: (ack, _src, tx) => {
      acks.push({ ack, tx });
      log.push(`ack${tx ? ' (accepted)' : ''}`);
    },
    onStrayResponse: (res) => {
      strays.push(res);
      log.push(`stray ${res.status}`);
    },
    onServerTransactionError: (tx, reason) => log.push(`server-error ${tx.request.method} ${reason}`),
    onServerTransactionTerminated: (tx) => log.push(`server-terminated ${tx.request.method}`),
    onInvalidMessage: (msg) => log.push(`invalid ${msg.kind}`),
  };
  const tm = new TransactionManager({
    timers,
    tu,
    ...(opts.compactCompleted ? { compactCompleted: true } : {}),
    send:
      opts.send ??
      ((msg, dest) => {
        sent.push({ msg, dest, at: timers.now });
      }),
  });
  const responsesSent = () => sent.filter((s) => s.msg.kind === 'response').map((s) => (s.msg as SipResponse).status);
  return { timers, sent, log, requests, acks, strays, tm, responsesSent };
}

function clientUser(log: string[]): ClientTransactionUser {
  return {
    onResponse: (res, tx) => log.push(`client ${tx.request.method} ${res.status}`),
    onTimeout: (tx, res) => log.push(`client ${tx.request.method} timeout ${res.status}`),
    onTransportError: (tx, _e, res) => log.push(`client ${tx.request.method} transport-error ${res?.status}`),
    onTerminated: (tx) => log.push(`client-terminated ${tx.request.method}`),
  };
}

const resp = (req: SipRequest, status: number, toTag = 'b1') => createResponse(req, status, { toTag: status === 100 ? false : toTag });

// --- server side (§17.2.3) --------------------------------------------------------------------------

describe('TransactionManager: requests to server transactions (§17.2.3)', () => {
  it('a new request creates a server transaction and goes to the TU once; retransmissions are absorbed and answered', () => {
    const s = setup();
    const reg = request('REGISTER');
    s.tm.receiveRequest(reg, source);
    expect(s.log).toEqual(['request REGISTER']);
    expect(s.tm.counts).toMatchObject({ nonInviteServer: 1, total: 1 });
    const tx = s.requests[0]!;
    expect(tx.source).toBe(source);
    tx.respond(resp(reg, 200));
    s.tm.receiveRequest(request('REGISTER'), source); // retransmission (a copy)
    expect(s.log).toEqual(['request REGISTER']);
    expect(s.responsesSent()).toEqual([200, 200]);
    expect(s.sent.every((x) => x.dest === source)).toBe(true);
    s.timers.advance(32_000);
    expect(s.tm.counts.total).toBe(0);
    expect(s.log.at(-1)).toBe('server-terminated REGISTER');
    // After Timer J, the same request is new again.
    s.tm.receiveRequest(request('REGISTER'), source);
    expect(s.log.filter((l) => l === 'request REGISTER')).toHaveLength(2);
  });

  it.each([
    ['different branch', { branch: 'z9hG4bK-other' }],
    ['different sent-by host', { sentBy: 'mallory.example.com:5060' }],
    ['different sent-by port', { sentBy: 'alice.example.com:5070' }],
    ['different method (same branch)', { cseqMethod: 'OPTIONS' }],
  ])('%s: a new transaction', (_name, o: ReqOpts) => {
    const s = setup();
    s.tm.receiveRequest(request('OPTIONS', { cseqMethod: 'OPTIONS' }), source);
    const method = o.cseqMethod === 'OPTIONS' ? 'INFO' : 'OPTIONS';
    s.tm.receiveRequest(request(method, { ...o, cseqMethod: method }), source);
    expect(s.requests).toHaveLength(2);
    expect(s.tm.counts.nonInviteServer).toBe(2);
  });

  it('sent-by host compares case-insensitively', () => {
    const s = setup();
    s.tm.receiveRequest(request('OPTIONS'), source);
    s.tm.receiveRequest(request('OPTIONS', { sentBy: 'ALICE.example.com:5060' }), source);
    expect(s.requests).toHaveLength(1);
  });

  it('INVITE: 100 Trying after 200 ms, retransmission answered with it', () => {
    const s = setup();
    s.tm.receiveRequest(request('INVITE'), source);
    s.timers.advance(200);
    s.tm.receiveRequest(request('INVITE'), source);
    expect(s.responsesSent()).toEqual([100, 100]);
    expect(s.log).toEqual(['request INVITE']);
  });

  it('ACK to a non-2xx final response is absorbed by the INVITE server transaction', () => {
    const s = setup();
    const inv = request('INVITE');
    s.tm.receiveRequest(inv, source);
    const tx = s.requests[0] as InviteServerTransaction;
    const busy = resp(inv, 486);
    tx.respond(busy);
    s.timers.advance(600);
    s.tm.receiveRequest(ackFor(inv, busy), source);
    expect(tx.state).toBe('confirmed');
    expect(s.acks).toEqual([]);
    s.tm.receiveRequest(ackFor(inv, busy), source); // retransmitted ACK absorbed too
    expect(s.acks).toEqual([]);
    expect(s.responsesSent()).toEqual([486, 486]); // one G retransmission at 500 ms, none after the ACK
    s.timers.advance(5000); // Timer I
    expect(s.tm.counts.total).toBe(0);
    expect(s.log).toEqual(['request INVITE', 'server-terminated INVITE']);
  });

  it('ACK to a non-2xx with a wrong branch is still absorbed when its To tag is our response\'s (sipp does this)', () => {
    const s = setup();
    const inv = request('INVITE');
    s.tm.receiveRequest(inv, source);
    const tx = s.requests[0] as InviteServerTransaction;
    const challenge = resp(inv, 407, 'our-tag');
    tx.respond(challenge);
    // Another To tag (not ours) does not acknowledge it...
    s.tm.receiveRequest(request('ACK', { branch: 'z9hG4bK-other', toTag: 'forged' }), source);
    expect(tx.state).toBe('completed');
    expect(s.acks).toHaveLength(1);
    // ...the right one does, and stops Timer G's retransmissions.
    s.tm.receiveRequest(ackFor(inv, challenge, { branch: 'z9hG4bK-sipp-5' }), source);
    expect(tx.state).toBe('confirmed');
    s.timers.advance(5000);
    expect(s.responsesSent()).toEqual([407]);
    expect(s.tm.counts.total).toBe(0);
  });

  it('ACK for a 2xx (new branch) matches no transaction and goes to the TU', () => {
    const s = setup();
    const inv = request('INVITE');
    s.tm.receiveRequest(inv, source);
    const ok = resp(inv, 200);
    s.requests[0]!.respond(ok);
    s.tm.receiveRequest(ackFor(inv, ok, { branch: 'z9hG4bK-ack-2xx' }), source);
    expect(s.acks).toHaveLength(1);
    expect(s.acks[0]!.tx).toBeUndefined();
    expect(s.tm.counts.inviteServer).toBe(1); // still Accepted (Timer L)
    s.timers.advance(32_000);
    expect(s.tm.counts.total).toBe(0);
  });

  it('ACK with the INVITE branch while Accepted goes to the TU with the transaction (RFC 6026 §8.7)', () => {
    const s = setup();
    const inv = request('INVITE');
    s.tm.receiveRequest(inv, source);
    const ok = resp(inv, 200);
    s.requests[0]!.respond(ok);
    s.tm.receiveRequest(ackFor(inv, ok), source);
    expect(s.acks).toHaveLength(1);
    expect(s.acks[0]!.tx).toBe(s.requests[0]);
  });

  it('a stray ACK without any transaction goes to the TU; no transaction is created for it', () => {
    const s = setup();
    s.tm.receiveRequest(request('ACK'), source);
    expect(s.log).toEqual(['ack']);
    expect(s.tm.counts.total).toBe(0);
  });

  it('CANCEL gets its own transaction and finds the INVITE it cancels (§9.2)', () => {
    const s = setup();
    const inv = request('INVITE');
    s.tm.receiveRequest(inv, source);
    const cancel = request('CANCEL'); // same branch, same sent-by, CSeq 1 CANCEL
    s.tm.receiveRequest(cancel, source);
    expect(s.log).toEqual(['request INVITE', 'request CANCEL']);
    expect(s.tm.counts).toMatchObject({ inviteServer: 1, nonInviteServer: 1 });
    const inviteTx = s.tm.findInviteServerTransactionForCancel(cancel);
    expect(inviteTx).toBe(s.requests[0]);
    expect(s.tm.findInviteServerTransactionForCancel(request('CANCEL', { branch: 'z9hG4bK-nope' }))).toBeUndefined();
    expect(s.tm.findInviteServerTransactionForCancel(request('CANCEL', { sentBy: 'other.example.com' }))).toBeUndefined();
    // The usual sequence: 200 to the CANCEL, 487 to the INVITE.
    s.requests[1]!.respond(resp(cancel, 200));
    inviteTx!.respond(resp(inv, 487));
    expect(s.responsesSent()).toEqual([200, 487]);
  });

  it('CANCEL for a terminated INVITE transaction finds nothing', () => {
    const s = setup();
    const inv = request('INVITE');
    s.tm.receiveRequest(inv, source);
    s.requests[0]!.respond(resp(inv, 404));
    s.timers.advance(32_000); // Timer H
    expect(s.log).toContain('server-error INVITE timeout');
    expect(s.tm.findInviteServerTransactionForCancel(request('CANCEL'))).toBeUndefined();
  });

  it('a request without Via or with a malformed CSeq is reported invalid and dropped', () => {
    const s = setup();
    const noVia = request('OPTIONS');
    noVia.headers = noVia.headers.filter((h) => h.name !== 'Via');
    s.tm.receiveRequest(noVia, source);
    const badCSeq = request('OPTIONS', { branch: null });
    badCSeq.headers = badCSeq.headers.map((h) => (h.name === 'CSeq' ? { ...h, value: 'x' } : h));
    s.tm.receiveRequest(badCSeq, source);
    expect(s.log).toEqual(['invalid request', 'invalid request']);
    expect(s.tm.counts.total).toBe(0);
  });

  it('responseDestination decides where responses go', () => {
    const timers = new FakeTimers();
    const dests: Peer[] = [];
    const to: Peer = { transport: 'udp', address: '203.0.113.5', port: 5099 };
    const tm = new TransactionManager({
      timers,
      send: (_m, d) => void dests.push(d),
      responseDestination: () => to,
      tu: { onRequest: (req, tx) => tx.respond(resp(req, 200)), onAck: () => {}, onStrayResponse: () => {} },
    });
    tm.receiveRequest(request('OPTIONS'), source);
    expect(dests).toEqual([to]);
  });
});

describe('TransactionManager: RFC 2543 matching (no magic cookie, §17.2.3)', () => {
  it.each([
    ['no branch', null],
    ['old-style branch', '1234abcd'],
  ])('%s: INVITE retransmission, ACK and CANCEL are matched', (_n, branch) => {
    const s = setup();
    const inv = request('INVITE', { branch });
    s.tm.receiveRequest(inv, source);
    s.tm.receiveRequest(request('INVITE', { branch }), source); // retransmission
    expect(s.requests).toHaveLength(1);

    // CANCEL: same Request-URI, From tag, To tag (none), Call-ID, CSeq number, top Via.
    const cancel = request('CANCEL', { branch });
    expect(s.tm.findInviteServerTransactionForCancel(cancel)).toBe(s.requests[0]);
    expect(s.tm.findInviteServerTransactionForCancel(request('CANCEL', { branch, cseq: 2 }))).toBeUndefined();
    expect(s.tm.findInviteServerTransactionForCancel(request('CANCEL', { branch, fromTag: 'zz' }))).toBeUndefined();
    expect(s.tm.findInviteServerTransactionForCancel(request('CANCEL', { branch, uri: 'sip:carol@example.com' }))).toBeUndefined();
    s.tm.receiveRequest(cancel, source);
    expect(s.requests).toHaveLength(2); // the CANCEL's own transaction
    s.tm.receiveRequest(request('CANCEL', { branch }), source); // CANCEL retransmission
    expect(s.requests).toHaveLength(2);

    const tx = s.requests[0] as InviteServerTransaction;
    const busy = resp(inv, 486, 'resp-tag');
    tx.respond(busy);
    // An ACK whose To tag is not that of the response does not match.
    s.tm.receiveRequest(request('ACK', { branch, toTag: 'other' }), source);
    expect(tx.state).toBe('completed');
    expect(s.acks).toHaveLength(1);
    // The right one (To tag of the response) is absorbed.
    s.tm.receiveRequest(request('ACK', { branch, toTag: 'resp-tag' }), source);
    expect(tx.state).toBe('confirmed');
    expect(s.acks).toHaveLength(1);
  });

  it('re-INVITE with a To tag: ACK with the same tag matches', () => {
    const s = setup();
    const inv = request('INVITE', { branch: null, toTag: 'dlg', cseq: 5 });
    s.tm.receiveRequest(inv, source);
    s.requests[0]!.respond(resp(inv, 488)); // keeps the To tag the request had
    s.tm.receiveRequest(request('ACK', { branch: null, toTag: 'dlg', cseq: 5 }), source);
    expect(s.requests[0]!.state).toBe('confirmed');
  });

  it('non-INVITE: retransmission matched by Request-URI, tags, Call-ID, CSeq and top Via', () => {
    const s = setup();
    s.tm.receiveRequest(request('OPTIONS', { branch: null }), source);
    s.tm.receiveRequest(request('OPTIONS', { branch: null }), source);
    expect(s.requests).toHaveLength(1);
    for (const o of [{ cseq: 2 }, { callId: 'x' }, { fromTag: 'x' }, { toTag: 'x' }, { uri: 'sip:x@example.com' }, { sentBy: 'x.example.com' }]) {
      s.tm.receiveRequest(request('OPTIONS', { branch: null, ...o }), source);
    }
    expect(s.requests).toHaveLength(7);
  });
});

// --- client side (§17.1.3) --------------------------------------------------------------------------

describe('TransactionManager: responses to client transactions (§17.1.3)', () => {
  it('matches by top Via branch and CSeq method; INVITE and CANCEL with the same branch stay apart', () => {
    const s = setup();
    const inv = request('INVITE', { branch: 'z9hG4bK-proxy-1' });
    const tx = s.tm.createClientTransaction(inv, peer('udp'), clientUser(s.log));
    expect(tx.kind).toBe('invite-client');
    s.tm.receiveResponse(resp(inv, 180), peer('udp'));
    const cancel = createCancel(inv);
    const ctx = s.tm.createClientTransaction(cancel, peer('udp'), clientUser(s.log));
    expect(s.tm.counts).toMatchObject({ inviteClient: 1, nonInviteClient: 1 });
    s.tm.receiveResponse(resp(cancel, 200), peer('udp'));
    s.tm.receiveResponse(resp(inv, 487), peer('udp'));
    expect(s.log).toEqual(['client INVITE 180', 'client CANCEL 200', 'client INVITE 487']);
    expect(ctx.state).toBe('completed');
    expect(tx.state).toBe('completed');
    expect(s.sent.map((x) => (x.msg.kind === 'request' ? x.msg.method : x.msg.status))).toEqual(['INVITE', 'CANCEL', 'ACK']);
    s.timers.advance(32_000);
    expect(s.tm.counts.total).toBe(0);
  });

  it('a response with an unknown branch, or with a known branch but another method, is stray', () => {
    const s = setup();
    const opt = request('OPTIONS', { branch: 'z9hG4bK-proxy-2' });
    s.tm.createClientTransaction(opt, peer('udp'), clientUser(s.log));
    s.tm.receiveResponse(resp(request('OPTIONS', { branch: 'z9hG4bK-unknown' }), 200), peer('udp'));
    s.tm.receiveResponse(resp(request('INFO', { branch: 'z9hG4bK-proxy-2' }), 200), peer('udp'));
    s.tm.receiveResponse(resp(request('OPTIONS', { branch: null }), 200), peer('udp'));
    expect(s.log).toEqual(['stray 200', 'stray 200', 'stray 200']);
    expect(s.strays).toHaveLength(3);
  });

  it('2xx retransmissions reach the TU through the transaction until Timer M, then as stray responses', () => {
    const s = setup();
    const inv = request('INVITE', { branch: 'z9hG4bK-proxy-3' });
    s.tm.createClientTransaction(inv, peer('udp'), clientUser(s.log));
    s.tm.receiveResponse(resp(inv, 200), peer('udp'));
    s.timers.advance(1000);
    s.tm.receiveResponse(resp(inv, 200), peer('udp'));
    s.timers.advance(31_000);
    s.tm.receiveResponse(resp(inv, 200), peer('udp'));
    expect(s.log).toEqual(['client INVITE 200', 'client INVITE 200', 'client-terminated INVITE', 'stray 200']);
  });

  it('Timer B / F: the TU sees a 408 and the transaction is gone', () => {
    const s = setup();
    s.tm.createClientTransaction(request('INVITE', { branch: 'z9hG4bK-b' }), peer('udp'), clientUser(s.log));
    s.tm.createClientTransaction(request('MESSAGE', { branch: 'z9hG4bK-f' }), peer('tcp'), clientUser(s.log));
    expect(s.tm.counts.total).toBe(2);
    s.timers.advance(32_000);
    expect(s.log).toEqual([
      'client INVITE timeout 408',
      'client-terminated INVITE',
      'client MESSAGE timeout 408',
      'client-terminated MESSAGE',
    ]);
    expect(s.tm.counts.total).toBe(0);
  });

  it('transport error: the TU sees a 503', () => {
    const s = setup({
      send: () => {
        throw new Error('ECONNREFUSED');
      },
    });
    s.tm.createClientTransaction(request('OPTIONS', { branch: 'z9hG4bK-t' }), peer('tcp'), clientUser(s.log));
    expect(s.log).toEqual(['client OPTIONS transport-error 503', 'client-terminated OPTIONS']);
    expect(s.tm.counts.total).toBe(0);
  });

  it.each([
    ['ACK', { branch: 'z9hG4bK-ack' }],
    ['OPTIONS', { branch: null }],
    ['OPTIONS', { branch: 'no-cookie' }],
  ] as const)('refuses %s %j', (method, o) => {
    const s = setup();
    expect(() => s.tm.createClientTransaction(request(method, o), peer('udp'), clientUser(s.log))).toThrow(TypeError);
    expect(s.tm.counts.total).toBe(0);
  });

  it('refuses a second client transaction with the same branch and method', () => {
    const s = setup();
    s.tm.createClientTransaction(request('OPTIONS', { branch: 'z9hG4bK-dup' }), peer('udp'), clientUser(s.log));
    expect(() => s.tm.createClientTransaction(request('OPTIONS', { branch: 'z9hG4bK-dup' }), peer('udp'), clientUser(s.log))).toThrow();
    expect(s.tm.counts.total).toBe(1);
  });

  it('findClientTransaction / findServerTransaction', () => {
    const s = setup();
    const opt = request('OPTIONS', { branch: 'z9hG4bK-find' });
    const tx = s.tm.createClientTransaction(opt, peer('udp'), clientUser(s.log));
    expect(s.tm.findClientTransaction(resp(opt, 200))).toBe(tx);
    s.tm.receiveRequest(request('INVITE'), source);
    expect(s.tm.findServerTransaction(request('INVITE'))).toBe(s.requests[0]);
    expect(s.tm.findServerTransaction(request('BYE'))).toBeUndefined();
  });
});

// --- whole-layer bookkeeping ------------------------------------------------------------------

describe('TransactionManager: nothing leaks', () => {
  it.each(['udp', 'tcp', 'tls', 'ws', 'wss'] as const)('%s: a proxied INVITE and REGISTER both ways end with zero transactions', (transport) => {
    const s = setup();
    const src: Peer = { ...source, transport };
    const dst = peer(transport);
    // Upstream INVITE → proxy → downstream, 180, 200, ACK for 2xx.
    const inv = request('INVITE');
    s.tm.receiveRequest(inv, src);
    const stx = s.requests[0]!;
    const fwd = request('INVITE', { branch: 'z9hG4bK-down' });
    s.tm.createClientTransaction(fwd, dst, {
      onResponse: (res) => stx.respond(createResponse(inv, res.status, { toTag: 'b1' })),
      onTimeout: () => {},
      onTransportError: () => {},
    });
    s.tm.receiveResponse(resp(fwd, 180), dst);
    s.tm.receiveResponse(resp(fwd, 200), dst);
    s.tm.receiveRequest(ackFor(inv, resp(inv, 200), { branch: 'z9hG4bK-ack' }), src);
    // A REGISTER answered locally, and a failed INVITE with its ACK.
    s.tm.receiveRequest(request('REGISTER', { branch: 'z9hG4bK-reg' }), src);
    s.requests[1]!.respond(resp(s.requests[1]!.request, 200));
    const inv2 = request('INVITE', { branch: 'z9hG4bK-inv2' });
    s.tm.receiveRequest(inv2, src);
    const busy = resp(inv2, 486);
    s.requests[2]!.respond(busy);
    s.tm.receiveRequest(ackFor(inv2, busy), src);
    expect(s.tm.counts.total).toBeGreaterThan(0);
    s.timers.runAll();
    expect(s.tm.counts).toEqual({ inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0, total: 0 });
    expect(s.tm.size).toBe(0);
    expect(s.timers.size).toBe(0);
    expect(s.acks).toHaveLength(1);
  });

  it('close() terminates every transaction without sending', () => {
    const s = setup();
    s.tm.receiveRequest(request('INVITE'), source);
    s.tm.receiveRequest(request('OPTIONS', { branch: 'z9hG4bK-o' }), source);
    s.tm.createClientTransaction(request('INVITE', { branch: 'z9hG4bK-c' }), peer('udp'), clientUser(s.log));
    const before = s.sent.length;
    s.tm.close();
    expect(s.tm.counts.total).toBe(0);
    expect(s.timers.size).toBe(0);
    s.timers.advance(100_000);
    expect(s.sent.length).toBe(before);
  });

  it('defaults to a timer wheel', () => {
    const tm = new TransactionManager({ send: () => {}, tu: { onRequest: () => {}, onAck: () => {}, onStrayResponse: () => {} } });
    expect(tm.timers).toBeInstanceOf(TimerWheel);
    expect(tm.values.B).toBe(32_000);
    tm.receiveRequest(request('INVITE'), source);
    expect((tm.timers as TimerWheel).size).toBe(1); // the 100 Trying delay
    tm.close();
    expect((tm.timers as TimerWheel).size).toBe(0);
  });

  it('receive() dispatches on message kind', () => {
    const s = setup();
    s.tm.receive(request('OPTIONS'), source);
    s.tm.receive(resp(request('OPTIONS', { branch: 'z9hG4bK-x' }), 200), source);
    expect(s.log).toEqual(['request OPTIONS', 'stray 200']);
  });
});

describe('TransactionManager: compactCompleted (completed non-INVITE server transactions kept as their response)', () => {
  it('over UDP: the final response answers retransmissions for Timer J (64*T1), then the request is new again', () => {
    const s = setup({ compactCompleted: true });
    const reg = request('REGISTER');
    s.tm.receiveRequest(reg, source);
    const tx = s.requests[0]!;
    tx.respond(resp(reg, 200));
    // The transaction object ends at once; what answers retransmissions is the kept response.
    expect(tx.state).toBe('terminated');
    expect(s.tm.counts.total).toBe(0);
    expect(s.tm.completedHeld).toBe(1);
    s.tm.receiveRequest(request('REGISTER'), source);
    expect(s.responsesSent()).toEqual([200, 200]);
    expect(s.log.filter((l) => l === 'request REGISTER')).toHaveLength(1);
    // Still absorbed just before J...
    s.timers.advance(s.tm.values.J - 1);
    s.tm.receiveRequest(request('REGISTER'), source);
    expect(s.responsesSent()).toEqual([200, 200, 200]);
    // ...and forgotten by 9/8 J: the same branch is then a new request for the TU.
    s.timers.advance(s.tm.values.J / 8 + 1);
    expect(s.tm.completedHeld).toBe(0);
    s.tm.receiveRequest(request('REGISTER'), source);
    expect(s.log.filter((l) => l === 'request REGISTER')).toHaveLength(2);
  });

  it('keeps nothing on reliable transports, nothing for provisional responses, and not with the option off', () => {
    const s = setup({ compactCompleted: true });
    const tcp = request('OPTIONS', { branch: 'z9hG4bK-tcp' });
    s.tm.receiveRequest(tcp, peer('tcp'));
    s.requests[0]!.respond(resp(tcp, 200));
    const udp = request('MESSAGE', { branch: 'z9hG4bK-udp' });
    s.tm.receiveRequest(udp, source);
    s.requests[1]!.respond(resp(udp, 100));
    expect(s.tm.completedHeld).toBe(0);
    expect(s.tm.counts.nonInviteServer).toBe(1);

    const off = setup();
    const reg = request('REGISTER');
    off.tm.receiveRequest(reg, source);
    off.requests[0]!.respond(resp(reg, 200));
    expect(off.requests[0]!.state).toBe('completed');
    expect(off.tm.completedHeld).toBe(0);
  });

  it('different branches are different transactions; close() forgets what is kept', () => {
    const s = setup({ compactCompleted: true });
    for (const b of ['z9hG4bK-a', 'z9hG4bK-b']) {
      const r = request('REGISTER', { branch: b });
      s.tm.receiveRequest(r, source);
      s.requests.at(-1)!.respond(resp(r, b.endsWith('a') ? 200 : 403));
    }
    s.tm.receiveRequest(request('REGISTER', { branch: 'z9hG4bK-b' }), source);
    expect(s.responsesSent()).toEqual([200, 403, 403]);
    s.tm.close();
    expect(s.tm.completedHeld).toBe(0);
  });
});
