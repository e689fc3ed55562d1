import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FlowTokens } from '../../../server/src/proxy/flow-token.ts';
import type { Peer } from '../../../server/src/sip/message.ts';

/** The token format: base64url(first 12 bytes of HMAC-SHA-256(key, body) ‖ body). */
function reference(key: Buffer, flow: Peer): string {
  const t = ['udp', 'tcp', 'tls', 'ws', 'wss'].indexOf(flow.transport);
  const body = Buffer.from(`${t}|${flow.address}|${flow.port}|${flow.connectionId ?? ''}`);
  return Buffer.concat([createHmac('sha256', key).update(body).digest().subarray(0, 12), body]).toString('base64url');
}

const flows: Peer[] = [
  { transport: 'udp', address: '192.0.2.10', port: 5060 },
  { transport: 'wss', address: '2001:db8::1', port: 443, connectionId: 'wss-17' },
  { transport: 'tcp', address: '198.51.100.7', port: 53124, connectionId: 'tcp-123456789' },
];

describe('FlowTokens (RFC 5626 §5.2)', () => {
  it('encodes as HMAC-SHA-256 ‖ body and decodes back, for any key length', () => {
    for (const key of [randomBytes(32), randomBytes(64), randomBytes(100), Buffer.from('k')]) {
      const tokens = new FlowTokens(key);
      for (const flow of flows) {
        const token = tokens.encode(flow);
        expect(token).toBe(reference(key, flow));
        expect(tokens.decode(token)).toEqual(flow);
      }
    }
  });

  it('refuses tokens made with another key, altered, truncated or oversized', () => {
    const tokens = new FlowTokens();
    const token = tokens.encode(flows[0]!);
    expect(new FlowTokens().decode(token)).toBeUndefined();
    const raw = Buffer.from(token, 'base64url');
    for (const i of [0, 11, 12, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[i]! ^= 1;
      expect(tokens.decode(bad.toString('base64url'))).toBeUndefined();
    }
    expect(tokens.decode(raw.subarray(0, 12).toString('base64url'))).toBeUndefined();
    expect(tokens.decode('')).toBeUndefined();
    expect(tokens.decode(Buffer.alloc(201, 1).toString('base64url'))).toBeUndefined();
  });

  it('still signs a body longer than the fast path takes', () => {
    const key = randomBytes(32);
    const flow: Peer = { transport: 'ws', address: '192.0.2.1', port: 80, connectionId: 'x'.repeat(300) };
    expect(new FlowTokens(key).encode(flow)).toBe(reference(key, flow));
  });
});
