/**
 * The STUN Binding responder a SIP UDP port needs for RFC 5626 §4.4.1 keep-alives: an outbound
 * client sends Binding requests (RFC 5389 §7) to its edge proxy's SIP port and learns its mapped
 * address from the response. Only what that needs: no authentication, no other methods.
 */
import { isIPv4, isIPv6 } from 'node:net';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;

/** A STUN message starts with two zero bits and carries the magic cookie (RFC 5389 §6); SIP starts with a letter. */
export function isStun(buf: Buffer): boolean {
  return buf.length >= 20 && (buf[0]! & 0xc0) === 0 && buf.readUInt32BE(4) === MAGIC_COOKIE;
}

/** Answer a Binding request with XOR-MAPPED-ADDRESS of the sender; undefined for anything else. */
export function stunBindingResponse(req: Buffer, address: string, port: number): Buffer | undefined {
  if (!isStun(req) || req.readUInt16BE(0) !== BINDING_REQUEST) return undefined;
  if (req.readUInt16BE(2) + 20 !== req.length) return undefined;
  const txId = req.subarray(8, 20);
  let family: number;
  let addr: Buffer;
  if (isIPv4(address)) {
    family = 0x01;
    addr = Buffer.from(address.split('.').map(Number));
    addr.writeUInt32BE((addr.readUInt32BE(0) ^ MAGIC_COOKIE) >>> 0, 0);
  } else if (isIPv6(address)) {
    family = 0x02;
    addr = ipv6ToBuffer(address);
    const key = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), txId]);
    for (let i = 0; i < 16; i++) addr[i]! ^= key[i]!;
  } else return undefined;
  const attr = Buffer.alloc(4 + 4 + addr.length);
  attr.writeUInt16BE(XOR_MAPPED_ADDRESS, 0);
  attr.writeUInt16BE(4 + addr.length, 2);
  attr[5] = family;
  attr.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 6);
  addr.copy(attr, 8);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(BINDING_SUCCESS, 0);
  head.writeUInt16BE(attr.length, 2);
  head.writeUInt32BE(MAGIC_COOKIE, 4);
  txId.copy(head, 8);
  return Buffer.concat([head, attr]);
}

function ipv6ToBuffer(address: string): Buffer {
  const out = Buffer.alloc(16);
  let s = address;
  // An IPv4-mapped tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}
