import { describe, expect, it } from 'vitest';
import { LocationStore } from '../../../server/src/registrar/location-store.ts';
import { Registrar } from '../../../server/src/registrar/registrar.ts';
import { getHeader, getHeaderLines, type Peer, type SipRequest } from '../../../server/src/sip/message.ts';

const T0 = 1_800_000_000_000;
const udp: Peer = { transport: 'udp', address: '192.0.2.10', port: 5060 };
const ws: Peer = { transport: 'ws', address: '192.0.2.20', port: 40000, connectionId: 'ws-1' };

function register(opts: { contacts?: string[]; expires?: number; callId?: string; cseq?: number; to?: string; ruri?: string; extra?: [string, string][]; rport?: boolean }): SipRequest {
  const headers = [
    { name: 'Via', value: `SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${Math.random()}${opts.rport ? ';rport' : ''}` },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: '<sip:alice@example.org>;tag=1' },
    { name: 'To', value: opts.to ?? '<sip:alice@example.org>' },
    { name: 'Call-ID', value: opts.callId ?? 'reg-1@192.0.2.10' },
    { name: 'CSeq', value: `${opts.cseq ?? 1} REGISTER` },
    ...(opts.contacts ?? ['<sip:alice@192.0.2.10:5060>']).map((value) => ({ name: 'Contact', value })),
    ...(opts.expires !== undefined ? [{ name: 'Expires', value: String(opts.expires) }] : []),
    ...(opts.extra ?? []).map(([name, value]) => ({ name, value })),
  ];
  return { kind: 'request', method: 'REGISTER', uri: opts.ruri ?? 'sip:example.org', headers, body: Buffer.alloc(0) };
}

function setup(max = 3) {
  const store = new LocationStore();
  const reg = new Registrar(store, {
    minExpires: 60,
    maxExpires: 3600,
    defaultExpires: 1800,
    maxContactsPerAor: max,
    isLocalDomain: (h) => h === 'example.org',
    userExists: (u) => u === 'alice' || u === 'bob',
  });
  return { store, reg };
}

describe('registrar (RFC 3261 §10.3)', () => {
  it('binds a contact and lists it with its remaining time in the 200 (step 8)', () => {
    const { store, reg } = setup();
    const res = reg.handle(register({ expires: 600 }), udp, 'alice', T0);
    expect(res.status).toBe(200);
    expect(getHeaderLines(res, 'Contact')).toEqual(['<sip:alice@192.0.2.10:5060>;expires=600']);
    expect(store.lookup('alice', T0).map((b) => b.contact)).toEqual(['sip:alice@192.0.2.10:5060']);
    expect(getHeader(res, 'To')).toMatch(/;tag=/);
  });

  it.each([
    ['Expires header', { expires: 300 }, 300],
    ['contact parameter wins over the header', { expires: 300, contacts: ['<sip:alice@192.0.2.10>;expires=900'] }, 900],
    ['no expiry given: the default', {}, 1800],
    ['too long: clamped to the maximum', { expires: 86400 }, 3600],
  ])('expiry: %s', (_name, opts, want) => {
    const { reg } = setup();
    const res = reg.handle(register(opts), udp, 'alice', T0);
    expect(res.status).toBe(200);
    expect(getHeader(res, 'Contact')).toMatch(new RegExp(`;expires=${want}$`));
  });

  it('answers 423 with Min-Expires for a too-brief interval (§10.3 step 7, §20.23)', () => {
    const { store, reg } = setup();
    const res = reg.handle(register({ expires: 30 }), udp, 'alice', T0);
    expect(res.status).toBe(423);
    expect(getHeader(res, 'Min-Expires')).toBe('60');
    expect(store.size).toBe(0);
  });

  it('keeps several contacts per AOR, highest q first', () => {
    const { store, reg } = setup();
    reg.handle(register({ contacts: ['<sip:alice@192.0.2.10:5060>;q=0.5', '<sip:alice@192.0.2.11:5060>;q=0.9'], expires: 600 }), udp, 'alice', T0);
    reg.handle(register({ contacts: ['<sip:alice@192.0.2.12:5060>'], callId: 'other', expires: 600 }), udp, 'alice', T0);
    expect(store.lookup('alice', T0).map((b) => [b.contact, b.q])).toEqual([
      ['sip:alice@192.0.2.12:5060', 1],
      ['sip:alice@192.0.2.11:5060', 0.9],
      ['sip:alice@192.0.2.10:5060', 0.5],
    ]);
  });

  it('refreshes a binding and refuses an out-of-order CSeq on the same Call-ID (step 7)', () => {
    const { store, reg } = setup();
    expect(reg.handle(register({ cseq: 5, expires: 600 }), udp, 'alice', T0).status).toBe(200);
    expect(reg.handle(register({ cseq: 6, expires: 1200 }), udp, 'alice', T0 + 1000).status).toBe(200);
    expect(store.lookup('alice', T0 + 1000)[0]!.expiresAt).toBe(T0 + 1000 + 1200_000);
    expect(reg.handle(register({ cseq: 4, expires: 600 }), udp, 'alice', T0 + 2000).status).toBe(400);
    expect(store.size).toBe(1);
  });

  it('answers a retransmission (same Call-ID and CSeq) with the bindings, changing nothing', () => {
    const { store, reg } = setup();
    expect(reg.handle(register({ cseq: 5, expires: 600 }), udp, 'alice', T0).status).toBe(200);
    // Seen again 2 s later, e.g. by another worker of a cluster: expiry stays as first registered.
    const again = reg.handle(register({ cseq: 5, expires: 600 }), udp, 'alice', T0 + 2000);
    expect(again.status).toBe(200);
    expect(store.lookup('alice', T0 + 2000)[0]!.expiresAt).toBe(T0 + 600_000);
    expect(again.headers.some((h) => h.name === 'Contact' && /expires=598/.test(h.value))).toBe(true);
  });

  it('removes one binding with expires=0 and all with "*" (step 6)', () => {
    const { store, reg } = setup();
    reg.handle(register({ contacts: ['<sip:alice@192.0.2.10>', '<sip:alice@192.0.2.11>'], expires: 600 }), udp, 'alice', T0);
    expect(reg.handle(register({ contacts: ['<sip:alice@192.0.2.10>;expires=0'], cseq: 2 }), udp, 'alice', T0).status).toBe(200);
    expect(store.lookup('alice', T0).map((b) => b.contact)).toEqual(['sip:alice@192.0.2.11']);
    const res = reg.handle(register({ contacts: ['*'], expires: 0, cseq: 3 }), udp, 'alice', T0);
    expect(res.status).toBe(200);
    expect(getHeaderLines(res, 'Contact')).toEqual([]);
    expect(store.size).toBe(0);
  });

  it.each([
    ['"*" with a nonzero Expires', { contacts: ['*'], expires: 60 }],
    ['"*" without Expires', { contacts: ['*'] }],
    ['"*" next to another contact', { contacts: ['*', '<sip:alice@192.0.2.10>'], expires: 0 }],
    ['a malformed Contact', { contacts: ['<sip:alice@192.0.2.10'] }],
    ['a malformed Expires', { expires: -5 }],
  ])('answers 400 to %s', (_n, opts) => {
    const { store, reg } = setup();
    expect(reg.handle(register(opts as never), udp, 'alice', T0).status).toBe(400);
    expect(store.size).toBe(0);
  });

  it.each([
    ['To names another user than the one authenticated (step 4)', { to: '<sip:bob@example.org>' }, 403],
    ['Request-URI is another domain (step 1)', { ruri: 'sip:elsewhere.example' }, 403],
    ['To names a user that does not exist', { to: '<sip:carol@example.org>' }, 403],
  ])('refuses when %s', (_n, opts, status) => {
    const { store, reg } = setup();
    expect(reg.handle(register(opts), udp, 'alice', T0).status).toBe(status);
    expect(store.size).toBe(0);
  });

  it('refuses more contacts than the per-AOR limit, changing nothing', () => {
    const { store, reg } = setup(2);
    reg.handle(register({ contacts: ['<sip:alice@192.0.2.10>', '<sip:alice@192.0.2.11>'], expires: 600 }), udp, 'alice', T0);
    const res = reg.handle(register({ contacts: ['<sip:alice@192.0.2.12>'], callId: 'x', expires: 600 }), udp, 'alice', T0);
    expect(res.status).toBe(403);
    expect(store.size).toBe(2);
  });

  it('expired bindings disappear from lookups and are swept', () => {
    const { store, reg } = setup();
    reg.handle(register({ expires: 60 }), udp, 'alice', T0);
    expect(store.lookup('alice', T0 + 59_000)).toHaveLength(1);
    expect(store.lookup('alice', T0 + 61_000)).toHaveLength(0);
    expect(store.sweep(T0 + 61_000)).toBe(1);
    expect(store.size).toBe(0);
  });
});

describe('outbound (RFC 5626 §6), Path (RFC 3327 §5.3), NAT (RFC 3581)', () => {
  const instance = '"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>"';

  it('binds by instance and reg-id, keeps the flow, and answers Require: outbound', () => {
    const { store, reg } = setup();
    const req = register({ contacts: [`<sip:x7y@abc.invalid;transport=ws>;+sip.instance=${instance};reg-id=1`], expires: 600, extra: [['Supported', 'path, outbound']] });
    const res = reg.handle(req, ws, 'alice', T0);
    expect(res.status).toBe(200);
    expect(getHeader(res, 'Require')).toBe('outbound');
    const [b] = store.lookup('alice', T0);
    expect(b!.flow).toEqual(ws);
    expect(b!.regId).toBe(1);
    // A new contact URI from the same instance and reg-id replaces the binding.
    reg.handle(register({ contacts: [`<sip:other@abc.invalid;transport=ws>;+sip.instance=${instance};reg-id=1`], expires: 600, cseq: 2, extra: [['Supported', 'outbound']] }), ws, 'alice', T0);
    expect(store.lookup('alice', T0).map((x) => x.contact)).toEqual(['sip:other@abc.invalid;transport=ws']);
    // The connection is marked in use while a binding rides on it; its closing removes the binding.
    expect(store.hasFlow('ws-1')).toBe(true);
    expect(store.removeFlow('ws-1')).toBe(1);
    expect(store.hasFlow('ws-1')).toBe(false);
    expect(store.size).toBe(0);
  });

  it('echoes Path headers and keeps them as the route toward the contact', () => {
    const { store, reg } = setup();
    const res = reg.handle(register({ expires: 600, extra: [['Path', '<sip:edge.example.org;lr>']] }), udp, 'alice', T0);
    expect(getHeaderLines(res, 'Path')).toEqual(['<sip:edge.example.org;lr>']);
    expect(store.lookup('alice', T0)[0]!.path).toEqual(['<sip:edge.example.org;lr>']);
  });

  it('records the UDP flow only when the phone asked for rport', () => {
    const { store, reg } = setup();
    reg.handle(register({ expires: 600 }), udp, 'alice', T0);
    expect(store.lookup('alice', T0)[0]!.flow).toBeUndefined();
    reg.handle(register({ expires: 600, rport: true, cseq: 2 }), udp, 'alice', T0);
    expect(store.lookup('alice', T0)[0]!.flow).toEqual(udp);
  });
});
