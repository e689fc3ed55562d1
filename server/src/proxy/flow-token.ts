/**
 * Flow tokens (RFC 5626 §5.2): the proxy records in its Record-Route URI which flow leads to
 * the UA on that side, so requests later in the dialog reach a browser over its WebSocket or a
 * phone behind NAT at the address its packets really come from, whatever its Contact says.
 *
 * The token is HMAC-protected with a per-process key, so nobody can forge one to make the proxy
 * send to an address of their choosing (§5.2: "the flow token MUST be tamper-proof").
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Peer, TransportName } from '../sip/message.ts';

const TRANSPORTS: readonly TransportName[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

export class FlowTokens {
  readonly #key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }

  encode(flow: Peer): string {
    const body = Buffer.from(`${TRANSPORTS.indexOf(flow.transport)}|${flow.address}|${flow.port}|${flow.connectionId ?? ''}`);
    const mac = createHmac('sha256', this.#key).update(body).digest().subarray(0, 12);
    // base64url is a legal SIP user part (unreserved characters only).
    return Buffer.concat([mac, body]).toString('base64url');
  }

  decode(token: string): Peer | undefined {
    let raw: Buffer;
    try {
      raw = Buffer.from(token, 'base64url');
    } catch {
      return undefined;
    }
    if (raw.length < 13 || raw.length > 200) return undefined;
    const mac = raw.subarray(0, 12);
    const body = raw.subarray(12);
    const want = createHmac('sha256', this.#key).update(body).digest().subarray(0, 12);
    if (!timingSafeEqual(mac, want)) return undefined;
    const [t, address, port, connectionId] = body.toString().split('|');
    const transport = TRANSPORTS[Number(t)];
    if (!transport || !address || !port) return undefined;
    return { transport, address, port: Number(port), ...(connectionId ? { connectionId } : {}) };
  }
}
