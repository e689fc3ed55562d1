/**
 * ProxyCore forwarding as seen from its ports: what it sends for a request, and when it answers
 * upstream. The transport and transaction layers are replaced by recorders.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FlowTokens } from '../../../server/src/proxy/flow-token.ts';
import { Locator } from '../../../server/src/proxy/locator.ts';
import { ProxyCore, type BranchEvents, type IncomingRequest } from '../../../server/src/proxy/proxy-core.ts';
import { LocationStore, type Binding } from '../../../server/src/registrar/location-store.ts';
import { parseMessage } from '../../../server/src/sip/parser.ts';
import { getHeader, getHeaderLines, type Peer, type SipMessage, type SipRequest, type SipResponse } from '../../../server/src/sip/message.ts';
import { createResponse } from '../../../server/src/sip/response.ts';

const caller: Peer = { transport: 'udp', address: '192.0.2.1', port: 5062 };

function binding(contact: string, extra: Partial<Binding> = {}): Binding {
  return { aor: 'bob', contact, key: `uri:${contact}`, q: 1, expiresAt: Date.now() + 600_000, callId: 'r', cseq: 1, path: [], contactParams: '', ...extra };
}

function setup(bindings: Binding[], locate?: Locator) {
  const location = new LocationStore();
  for (const b of bindings) location.upsert(b);
  const sent: { req: SipRequest; dest: Peer; events: BranchEvents }[] = [];
  const stateless: { msg: SipMessage; dest: Peer }[] = [];
  const flowTokens = new FlowTokens();
  const proxy = new ProxyCore({
    logger: pino({ level: 'silent' }),
    port: {
      sendRequest: (req, dest, events) => void sent.push({ req, dest, events }),
      sendStateless: (msg, dest) => (stateless.push({ msg, dest }), true),
      local: () => ({ host: '203.0.113.5', port: 5060 }),
    },
    location,
    flowTokens,
    locator: locate ?? new Locator({
      resolveNaptr: async () => [],
      resolveSrv: async () => [],
      resolve4: async () => ['198.51.100.99'],
      resolve6: async () => [],
    }),
    isMyself: (host, port) => host === 'example.org' || (host === '203.0.113.5' && (port ?? 5060) === 5060),
    isLocalDomain: (host) => host === 'example.org',
    userExists: (u) => u === 'bob',
    authenticate: () => ({ ok: true }),
    timerC: 0,
  });
  return { proxy, sent, stateless, flowTokens };
}

function invite(): SipRequest {
  return parseMessage(
    Buffer.from(
      'INVITE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-c1\r\nMax-Forwards: 70\r\n' +
        'From: <sip:carol@elsewhere.example>;tag=f1\r\nTo: <sip:bob@example.org>\r\nCall-ID: call-1@192.0.2.1\r\nCSeq: 1 INVITE\r\n' +
        'Contact: <sip:carol@192.0.2.1:5062>\r\nContent-Length: 0\r\n\r\n',
    ),
  ) as SipRequest;
}

function incoming(request: SipRequest) {
  const responses: SipResponse[] = [];
  const stx: IncomingRequest = { request, source: caller, respond: (res) => void responses.push(res) };
  return { stx, responses };
}

describe('ProxyCore forwarding', () => {
  it('forwards to a literal address at once, with Record-Route, Via and Max-Forwards', () => {
    const { proxy, sent } = setup([binding('sip:bob@198.51.100.7:5070')]);
    const { stx, responses } = incoming(invite());
    proxy.handleRequest(stx);
    expect(sent).toHaveLength(1);
    const fwd = sent[0]!;
    expect(fwd.dest).toEqual({ transport: 'udp', address: '198.51.100.7', port: 5070 });
    expect(fwd.req.uri).toBe('sip:bob@198.51.100.7:5070');
    expect(getHeader(fwd.req, 'Max-Forwards')).toBe('69');
    expect(getHeaderLines(fwd.req, 'Via')).toHaveLength(2);
    expect(getHeader(fwd.req, 'Via')).toMatch(/^SIP\/2\.0\/UDP 203\.0\.113\.5:5060;branch=z9hG4bK/);
    expect(getHeaderLines(fwd.req, 'Record-Route').length).toBeGreaterThan(0);
    expect(responses).toEqual([]);
    // The callee's 200 goes upstream without our Via.
    const ok = createResponse(fwd.req, 200);
    fwd.events.response(ok);
    expect(responses.map((r) => r.status)).toEqual([200]);
    expect(getHeaderLines(responses[0]!, 'Via')).toEqual(['SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-c1']);
  });

  it('does not answer while another branch is pending when one fails at once', () => {
    // A contact that leads back to the proxy would loop: that branch fails (482) while forking.
    const { proxy, sent } = setup([binding('sip:bob@203.0.113.5:5060'), binding('sip:bob@198.51.100.8:5070', { q: 0.5 })]);
    const { stx, responses } = incoming(invite());
    proxy.handleRequest(stx);
    expect(sent.map((s) => s.dest.address)).toEqual(['198.51.100.8']);
    expect(responses).toEqual([]);
    sent[0]!.events.response(createResponse(sent[0]!.req, 486));
    // Only now, with both branches final, the best of 482 and 486 goes upstream (§16.7 step 6).
    expect(responses.map((r) => r.status)).toEqual([482]);
    expect(proxy.activeContexts).toBe(0);
  });

  it('answers at once when every branch fails at once', () => {
    const { proxy, sent } = setup([binding('sip:bob@203.0.113.5:5060')]);
    const { stx, responses } = incoming(invite());
    proxy.handleRequest(stx);
    expect(sent).toEqual([]);
    expect(responses.map((r) => r.status)).toEqual([482]);
    expect(proxy.activeContexts).toBe(0);
  });

  it('waits for DNS when the contact names a host', async () => {
    const { proxy, sent } = setup([binding('sip:bob@phone.example.net')]);
    const { stx, responses } = incoming(invite());
    proxy.handleRequest(stx);
    expect(sent).toEqual([]);
    await new Promise((r) => setTimeout(r, 0));
    expect(sent.map((s) => s.dest)).toEqual([{ transport: 'udp', address: '198.51.100.99', port: 5060 }]);
    expect(responses).toEqual([]);
  });

  it('sends the ACK for a 2xx on along our Route at once', () => {
    const { proxy, stateless } = setup([]);
    const ack = parseMessage(
      Buffer.from(
        'ACK sip:bob@198.51.100.7:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-a1\r\nRoute: <sip:203.0.113.5:5060;lr>\r\n' +
          'Max-Forwards: 70\r\nFrom: <sip:carol@elsewhere.example>;tag=f1\r\nTo: <sip:bob@example.org>;tag=t1\r\nCall-ID: call-1@192.0.2.1\r\n' +
          'CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n',
      ),
    ) as SipRequest;
    proxy.handleAck(ack);
    expect(stateless).toHaveLength(1);
    expect(stateless[0]!.dest).toEqual({ transport: 'udp', address: '198.51.100.7', port: 5070 });
    expect(getHeaderLines(stateless[0]!.msg, 'Route')).toEqual([]);
    expect(getHeader(stateless[0]!.msg, 'Max-Forwards')).toBe('69');
  });
});

describe('ProxyCore: a browser that reconnected keeps its dialogs (flow tokens, RFC 5626 §5.3)', () => {
  const oldFlow: Peer = { transport: 'wss', address: '127.0.0.1', port: 40001, connectionId: 'wss-1' };
  const newFlow: Peer = { transport: 'wss', address: '127.0.0.1', port: 40002, connectionId: 'wss-2' };
  const contact = 'sip:k3j2@df7jal23ls0d.invalid;transport=ws;ob';

  function bye(token: string): SipRequest {
    return parseMessage(
      Buffer.from(
        `BYE ${contact} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-b1\r\nRoute: <sip:${token}@203.0.113.5:5060;lr>\r\n` +
          'Max-Forwards: 70\r\nFrom: <sip:carol@elsewhere.example>;tag=f1\r\nTo: <sip:bob@example.org>;tag=t1\r\nCall-ID: call-1@192.0.2.1\r\n' +
          'CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n',
      ),
    ) as SipRequest;
  }

  it('sends a dialog request to the flow the same Contact is registered over now', () => {
    const { proxy, sent, flowTokens } = setup([binding(contact, { flow: newFlow })]);
    proxy.handleRequest(incoming(bye(flowTokens.encode(oldFlow))).stx);
    expect(sent.map((s) => s.dest)).toEqual([newFlow]);
  });

  it('keeps the token’s flow when no registration of that Contact names another one', () => {
    for (const bindings of [[], [binding(contact, { flow: oldFlow })], [binding('sip:other@x.invalid;transport=ws', { flow: newFlow })]]) {
      const { proxy, sent, flowTokens } = setup(bindings);
      proxy.handleRequest(incoming(bye(flowTokens.encode(oldFlow))).stx);
      expect(sent.map((s) => s.dest)).toEqual([oldFlow]);
    }
  });
});
