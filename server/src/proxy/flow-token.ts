/**
 * Flow tokens (RFC 5626 §5.2): the proxy records in its Record-Route URI which flow leads to
 * the UA on that side, so requests later in the dialog reach a browser over its WebSocket or a
 * phone behind NAT at the address its packets really come from, whatever its Contact says.
 *
 * The token is HMAC-protected with a per-process key, so nobody can forge one to make the proxy
 * send to an address of their choosing (§5.2: "the flow token MUST be tamper-proof").
 *
 * A token is encoded for every dialog-creating request and decoded for every request routed
 * back through us, so the HMAC-SHA-256 is computed with one-shot hashes over reused buffers
 * (RFC 2104 by hand, as the digest nonces do) instead of a createHmac() object per token, which
 * costs about 20 µs.
 */
import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Peer, TransportName } from '../sip/message.ts';

const TRANSPORTS: readonly TransportName[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

const BLOCK = 64;
const MAC_BYTES = 12;
/** Longest token body decode() accepts (raw token at most 200 bytes, MAC included). */
const MAX_BODY = 200 - MAC_BYTES;

export class FlowTokens {
  readonly #key: Buffer;
  /** K ^ ipad followed by room for a body; K ^ opad followed by the inner hash. */
  readonly #inner: Buffer;
  readonly #outer: Buffer;
  readonly #mac = Buffer.alloc(MAC_BYTES);

  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
    // RFC 2104 §2: a key longer than the block is hashed first.
    const k = key.length > BLOCK ? createHmacKey(key) : key;
    this.#inner = Buffer.alloc(BLOCK + MAX_BODY, 0x36);
    this.#outer = Buffer.alloc(BLOCK + 32, 0x5c);
    for (let i = 0; i < k.length; i++) {
      this.#inner[i] = k[i]! ^ 0x36;
      this.#outer[i] = k[i]! ^ 0x5c;
    }
  }

  encode(flow: Peer): string {
    const body = `${TRANSPORTS.indexOf(flow.transport)}|${flow.address}|${flow.port}|${flow.connectionId ?? ''}`;
    const len = Buffer.byteLength(body);
    if (len > MAX_BODY) return this.#encodeSlow(Buffer.from(body));
    this.#inner.write(body, BLOCK, len, 'utf8');
    const out = Buffer.allocUnsafe(MAC_BYTES + len);
    out.write(this.#macOfInner(len), 0, MAC_BYTES, 'latin1');
    this.#inner.copy(out, MAC_BYTES, BLOCK, BLOCK + len);
    // base64url is a legal SIP user part (unreserved characters only).
    return out.toString('base64url');
  }

  decode(token: string): Peer | undefined {
    let raw: Buffer;
    try {
      raw = Buffer.from(token, 'base64url');
    } catch {
      return undefined;
    }
    if (raw.length < 13 || raw.length > 200) return undefined;
    const len = raw.length - MAC_BYTES;
    raw.copy(this.#inner, BLOCK, MAC_BYTES);
    this.#mac.write(this.#macOfInner(len), 0, MAC_BYTES, 'latin1');
    if (!timingSafeEqual(raw.subarray(0, MAC_BYTES), this.#mac)) return undefined;
    const [t, address, port, connectionId] = raw.toString('utf8', MAC_BYTES).split('|');
    const transport = TRANSPORTS[Number(t)];
    if (!transport || !address || !port) return undefined;
    return { transport, address, port: Number(port), ...(connectionId ? { connectionId } : {}) };
  }

  /** HMAC-SHA-256(key, body) for the body at #inner[BLOCK, BLOCK + len), as a latin1 string. */
  #macOfInner(len: number): string {
    // 'binary' is latin1 (the name @types/node accepts for hash output).
    this.#outer.write(hash('sha256', this.#inner.subarray(0, BLOCK + len), 'binary'), BLOCK, 'latin1');
    return hash('sha256', this.#outer, 'binary');
  }

  #encodeSlow(body: Buffer): string {
    const mac = createHmac('sha256', this.#key).update(body).digest().subarray(0, MAC_BYTES);
    return Buffer.concat([mac, body]).toString('base64url');
  }
}

function createHmacKey(key: Buffer): Buffer {
  return hash('sha256', key, 'buffer');
}
