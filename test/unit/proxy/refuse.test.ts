import { describe, expect, it } from 'vitest';
import { refuse, type IncomingRequest } from '../../../server/src/proxy/proxy-core.ts';
import type { SipRequest, SipResponse } from '../../../server/src/sip/message.ts';
import { createResponse } from '../../../server/src/sip/response.ts';

function request(method: string): SipRequest {
  return {
    kind: 'request',
    method,
    uri: 'sip:example.org',
    headers: [
      { name: 'Via', value: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1' },
      { name: 'From', value: '<sip:alice@example.org>;tag=1' },
      { name: 'To', value: '<sip:alice@example.org>' },
      { name: 'Call-ID', value: 'c1' },
      { name: 'CSeq', value: `1 ${method}` },
    ],
    body: Buffer.alloc(0),
  };
}

function incoming(method: string) {
  const log: string[] = [];
  const req = request(method);
  const stx: IncomingRequest = {
    request: req,
    source: { transport: 'udp', address: '192.0.2.1', port: 5060 },
    respond: (r: SipResponse) => void log.push(`stateful ${r.status}`),
    respondStateless: (r: SipResponse) => void log.push(`stateless ${r.status}`),
  };
  return { stx, log, req };
}

describe('refuse: which refusals keep their transaction', () => {
  it('a plain challenge to a REGISTER goes statelessly', () => {
    const { stx, log, req } = incoming('REGISTER');
    refuse(stx, { response: createResponse(req, 401), fresh: true });
    expect(log).toEqual(['stateless 401']);
  });

  it("an INVITE's challenge keeps its transaction (it absorbs the ACK)", () => {
    const { stx, log, req } = incoming('INVITE');
    refuse(stx, { response: createResponse(req, 407), fresh: true });
    expect(log).toEqual(['stateful 407']);
  });

  it('a refusal after failed credentials keeps its transaction (a retransmission is no second failure)', () => {
    const { stx, log, req } = incoming('REGISTER');
    refuse(stx, { response: createResponse(req, 401) });
    expect(log).toEqual(['stateful 401']);
  });
});
