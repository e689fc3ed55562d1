/**
 * SDP (RFC 8866, which obsoletes RFC 4566): a small parser and serializer for the descriptions
 * SIP carries (RFC 3264 offer/answer). Only the grammar: what each line means for the bridge is
 * read by ./sdp-facts.ts. Unknown attributes are kept, in order, as RFC 8866 §5.13 asks ("a
 * receiver MUST ignore attributes it does not understand"), and lines this model does not name
 * (i=, u=, e=, p=, r=, z=, k=) are accepted and dropped: the bridge writes its own descriptions.
 *
 * Why not sdp-transform: the bridge never edits a description in place (each leg gets one written
 * from the mediasoup transport that serves it), so a full per-attribute grammar would only be
 * translated once more into the facts below; errors here must name the offending line for a 488.
 */

export interface SdpConnection {
  netType: string;
  addrType: string;
  /** Unicast address (RFC 8866 §5.7); a multicast TTL or count after "/" is removed. */
  address: string;
}

export interface SdpAttribute {
  name: string;
  /** Text after the first ":", undefined for a property attribute (a=sendrecv). */
  value: string | undefined;
}

export interface SdpOrigin {
  username: string;
  sessionId: string;
  /** Kept as text: it may exceed 2^53 (RFC 8866 §5.2 suggests an NTP timestamp). */
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export interface SdpMedia {
  /** audio, video, text, application, image, ... (RFC 8866 §5.14). */
  kind: string;
  port: number;
  /** "m=audio 49170/2 ..." (RFC 8866 §5.14); rare, kept to be able to refuse it. */
  portCount: number | undefined;
  proto: string;
  /** Payload type numbers for RTP profiles, or format names. */
  formats: string[];
  connection: SdpConnection | undefined;
  bandwidths: string[];
  attributes: SdpAttribute[];
}

export interface SessionDescription {
  origin: SdpOrigin;
  sessionName: string;
  connection: SdpConnection | undefined;
  bandwidths: string[];
  /** The t= line(s), as text. */
  timing: string[];
  attributes: SdpAttribute[];
  media: SdpMedia[];
}

/**
 * A description the bridge cannot use. `warnCode` is the SIP Warning code for the 488 (RFC 3261
 * §20.43): 300 incompatible network protocol, 301 address format, 302 transport protocol,
 * 304 media type not available, 305 incompatible media format, 399 miscellaneous.
 */
export class SdpError extends Error {
  override name = 'SdpError';
  readonly code = 'SOTTO_ERR_SDP';
  readonly warnCode: number;
  constructor(message: string, warnCode = 399) {
    super(message);
    this.warnCode = warnCode;
  }
}

/** Longest description accepted (the SIP layer caps messages at 64 KiB anyway). */
const MAX_SDP_BYTES = 32 * 1024;
const MAX_MEDIA = 16;
const MAX_ATTRIBUTES = 512;

function parseConnection(value: string, lineNo: number): SdpConnection {
  const parts = value.split(' ');
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) throw new SdpError(`line ${lineNo}: malformed c= line`, 301);
  return { netType: parts[0], addrType: parts[1], address: parts[2].split('/')[0]! };
}

/** Parse a description. Throws SdpError naming the line at fault. */
export function parseSdp(text: string): SessionDescription {
  if (text.length > MAX_SDP_BYTES) throw new SdpError('session description too large');
  const lines = text.split(/\r?\n/);
  // A trailing CRLF leaves one empty string; empty lines elsewhere are tolerated too.
  let origin: SdpOrigin | undefined;
  let sessionName = '';
  let connection: SdpConnection | undefined;
  const bandwidths: string[] = [];
  const timing: string[] = [];
  const attributes: SdpAttribute[] = [];
  const media: SdpMedia[] = [];
  let current: SdpMedia | undefined;
  let attributeCount = 0;
  let sawVersion = false;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const lineNo = i + 1;
    if (line.length < 2 || line[1] !== '=') throw new SdpError(`line ${lineNo}: not a <type>=<value> line`);
    const type = line[0]!;
    const value = line.slice(2);
    if (!sawVersion) {
      if (type !== 'v' || value !== '0') throw new SdpError('a session description starts with v=0');
      sawVersion = true;
      continue;
    }
    switch (type) {
      case 'o': {
        const p = value.split(' ');
        if (p.length !== 6 || p.some((x) => !x)) throw new SdpError(`line ${lineNo}: malformed o= line`);
        origin = { username: p[0]!, sessionId: p[1]!, sessionVersion: p[2]!, netType: p[3]!, addrType: p[4]!, address: p[5]! };
        break;
      }
      case 's':
        sessionName = value;
        break;
      case 'c':
        if (current) current.connection = parseConnection(value, lineNo);
        else connection = parseConnection(value, lineNo);
        break;
      case 'b':
        (current ? current.bandwidths : bandwidths).push(value);
        break;
      case 't':
        timing.push(value);
        break;
      case 'm': {
        const p = value.split(' ');
        const m = /^(\d+)(?:\/(\d+))?$/.exec(p[1] ?? '');
        if (p.length < 4 || !p[0] || !m || !p[2]) throw new SdpError(`line ${lineNo}: malformed m= line`);
        const port = Number(m[1]);
        if (port > 65535) throw new SdpError(`line ${lineNo}: port out of range`);
        if (media.length >= MAX_MEDIA) throw new SdpError('too many m= lines');
        current = {
          kind: p[0],
          port,
          portCount: m[2] !== undefined ? Number(m[2]) : undefined,
          proto: p[2],
          formats: p.slice(3).filter((f) => f !== ''),
          connection: undefined,
          bandwidths: [],
          attributes: [],
        };
        media.push(current);
        break;
      }
      case 'a': {
        if (++attributeCount > MAX_ATTRIBUTES) throw new SdpError('too many attributes');
        const colon = value.indexOf(':');
        const attr: SdpAttribute = colon < 0 ? { name: value, value: undefined } : { name: value.slice(0, colon), value: value.slice(colon + 1) };
        if (!attr.name) throw new SdpError(`line ${lineNo}: attribute without a name`);
        (current ? current.attributes : attributes).push(attr);
        break;
      }
      case 'v':
        throw new SdpError(`line ${lineNo}: second v= line (one description per body)`);
      default:
        // i=, u=, e=, p=, r=, z=, k= and unknown types: RFC 8866 §5 lets us ignore them.
        if (!/^[a-z]$/.test(type)) throw new SdpError(`line ${lineNo}: unknown line type "${type}"`);
    }
  }
  if (!sawVersion) throw new SdpError('empty session description');
  if (!origin) throw new SdpError('no o= line (RFC 8866 §5.2)');
  return { origin, sessionName, connection, bandwidths, timing, attributes, media };
}

function attributeLines(attrs: readonly SdpAttribute[]): string[] {
  return attrs.map((a) => (a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`));
}

function connectionLine(c: SdpConnection): string {
  return `c=${c.netType} ${c.addrType} ${c.address}`;
}

/** Serialize, with CRLF line ends (RFC 8866 §5: "The sequence CRLF ... is used to end a line"). */
export function serializeSdp(d: SessionDescription): string {
  const o = d.origin;
  const out = ['v=0', `o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`, `s=${d.sessionName || '-'}`];
  if (d.connection) out.push(connectionLine(d.connection));
  for (const b of d.bandwidths) out.push(`b=${b}`);
  for (const t of d.timing.length ? d.timing : ['0 0']) out.push(`t=${t}`);
  out.push(...attributeLines(d.attributes));
  for (const m of d.media) {
    out.push(`m=${m.kind} ${m.port}${m.portCount !== undefined ? `/${m.portCount}` : ''} ${m.proto} ${m.formats.join(' ')}`);
    if (m.connection) out.push(connectionLine(m.connection));
    for (const b of m.bandwidths) out.push(`b=${b}`);
    out.push(...attributeLines(m.attributes));
  }
  return out.join('\r\n') + '\r\n';
}

/** Values of every attribute `name` (media level). */
export function attributeValues(attrs: readonly SdpAttribute[], name: string): string[] {
  const out: string[] = [];
  for (const a of attrs) if (a.name === name && a.value !== undefined) out.push(a.value);
  return out;
}

export function hasAttribute(attrs: readonly SdpAttribute[], name: string): boolean {
  return attrs.some((a) => a.name === name);
}

export function attributeValue(attrs: readonly SdpAttribute[], name: string): string | undefined {
  return attrs.find((a) => a.name === name)?.value;
}
