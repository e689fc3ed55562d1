/**
 * What a session description says, as the bridge needs it: per m= line the transport profile,
 * the codecs (RFC 8866 §6.6 rtpmap, §6.15 fmtp, RFC 4585 rtcp-fb), the direction (RFC 3264 §5.1,
 * §8.4 hold), the RTP/RTCP addresses (RFC 3605 a=rtcp, RFC 5761 rtcp-mux), the sender's SSRC
 * (RFC 5576), SDES keys (RFC 4568), ICE (RFC 8839) and DTLS (RFC 8842) parameters.
 *
 * Classification of an endpoint by its description:
 * - `webrtc`: UDP/TLS/RTP/SAVPF (RFC 5764 §8) with a=fingerprint and ICE credentials: a browser;
 * - `sdes`: RTP/SAVP(F) with a=crypto (RFC 4568), or RTP/AVP with a=crypto, which is
 *   opportunistic SRTP (RFC 8643): a phone that encrypts with keys written in the SDP;
 * - `plain`: RTP/AVP(F) without keys: a phone sending clear RTP.
 * Anything else (DTLS-SRTP without ICE, legacy RTP/SAVP with a fingerprint, UDPTL for T.38, ...)
 * is `other`: the bridge does not take part, or refuses with a 488 when it has to.
 *
 * Pure: no I/O.
 */
import { attributeValue, attributeValues, hasAttribute, SdpError, type SdpMedia, type SessionDescription } from './sdp.ts';
import { parseCrypto, type CryptoAttribute } from './sdes.ts';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type MediaProfile = 'webrtc' | 'sdes' | 'plain' | 'other';

export interface RtcpFeedback {
  type: string;
  parameter?: string;
}

export interface SdpCodec {
  pt: number;
  /** Encoding name as written (PCMU, opus, telephone-event, H264 ...). */
  name: string;
  clockRate: number;
  channels: number | undefined;
  /** The a=fmtp parameters, as text (undefined when there is no fmtp line). */
  fmtp: string | undefined;
  rtcpFb: RtcpFeedback[];
}

export interface MediaFacts {
  index: number;
  kind: string;
  port: number;
  proto: string;
  /** The m= line's format list, as written. */
  formats: string[];
  profile: MediaProfile;
  /** RTP/AVP with a=crypto: SRTP if the answer has keys too, RTP otherwise (RFC 8643). */
  opportunistic: boolean;
  codecs: SdpCodec[];
  direction: Direction;
  /** c= address (media level, else session level). */
  address: string | undefined;
  /** RFC 3605 a=rtcp port, when given. */
  rtcpPort: number | undefined;
  rtcpMux: boolean;
  /** The first media SSRC the endpoint says it sends (RFC 5576), the primary of an FID group. */
  ssrc: number | undefined;
  cname: string | undefined;
  crypto: CryptoAttribute[];
  iceUfrag: string | undefined;
  icePwd: string | undefined;
  fingerprints: { algorithm: string; value: string }[];
  /** RFC 4145 a=setup (actpass, active, passive). */
  setup: string | undefined;
  mid: string | undefined;
  ptime: number | undefined;
}

export interface DescriptionFacts {
  origin: SessionDescription['origin'];
  media: MediaFacts[];
  /** The kind of endpoint that wrote it (see above), from its first active RTP stream. */
  profile: MediaProfile | 'none';
}

/** RFC 3551 §6 table 4/5: static payload types an rtpmap may leave out. */
const STATIC_PT: Record<number, { name: string; clockRate: number; channels?: number }> = {
  0: { name: 'PCMU', clockRate: 8000, channels: 1 },
  3: { name: 'GSM', clockRate: 8000, channels: 1 },
  4: { name: 'G723', clockRate: 8000, channels: 1 },
  8: { name: 'PCMA', clockRate: 8000, channels: 1 },
  9: { name: 'G722', clockRate: 8000, channels: 1 },
  13: { name: 'CN', clockRate: 8000, channels: 1 },
  18: { name: 'G729', clockRate: 8000, channels: 1 },
  26: { name: 'JPEG', clockRate: 90000 },
  31: { name: 'H261', clockRate: 90000 },
  34: { name: 'H263', clockRate: 90000 },
};

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

function directionOf(attrs: SdpMedia['attributes']): Direction | undefined {
  for (const a of attrs) if ((DIRECTIONS as readonly string[]).includes(a.name)) return a.name as Direction;
  return undefined;
}

function isRtpProto(proto: string): boolean {
  return /(^|\/)RTP\/(S?AVPF?)$/i.test(proto);
}

function profileOf(proto: string, hasFingerprint: boolean, hasIce: boolean, crypto: CryptoAttribute[]): { profile: MediaProfile; opportunistic: boolean } {
  const p = proto.toUpperCase();
  if (p === 'UDP/TLS/RTP/SAVPF' || p === 'UDP/TLS/RTP/SAVP' || p === 'TCP/DTLS/RTP/SAVPF') {
    return { profile: hasFingerprint && hasIce ? 'webrtc' : 'other', opportunistic: false };
  }
  if (p === 'RTP/SAVP' || p === 'RTP/SAVPF') return { profile: crypto.length ? 'sdes' : 'other', opportunistic: false };
  if (p === 'RTP/AVP' || p === 'RTP/AVPF') return crypto.length ? { profile: 'sdes', opportunistic: true } : { profile: 'plain', opportunistic: false };
  return { profile: 'other', opportunistic: false };
}

function codecsOf(m: SdpMedia): SdpCodec[] {
  if (!isRtpProto(m.proto)) return [];
  const maps = new Map<number, { name: string; clockRate: number; channels: number | undefined }>();
  for (const v of attributeValues(m.attributes, 'rtpmap')) {
    const r = /^(\d{1,3})\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(v);
    if (r) maps.set(Number(r[1]), { name: r[2]!, clockRate: Number(r[3]), channels: r[4] !== undefined ? Number(r[4]) : undefined });
  }
  const fmtps = new Map<number, string>();
  for (const v of attributeValues(m.attributes, 'fmtp')) {
    const r = /^(\d{1,3})\s+(.*)$/.exec(v);
    if (r) fmtps.set(Number(r[1]), r[2]!.trim());
  }
  const fbs = new Map<string, RtcpFeedback[]>();
  for (const v of attributeValues(m.attributes, 'rtcp-fb')) {
    const r = /^(\d{1,3}|\*)\s+(\S+)(?:\s+(\S+))?/.exec(v);
    if (!r) continue;
    const list = fbs.get(r[1]!) ?? [];
    list.push(r[3] ? { type: r[2]!, parameter: r[3] } : { type: r[2]! });
    fbs.set(r[1]!, list);
  }
  const out: SdpCodec[] = [];
  for (const f of m.formats) {
    if (!/^\d{1,3}$/.test(f)) continue;
    const pt = Number(f);
    if (pt > 127) continue;
    const map = maps.get(pt) ?? STATIC_PT[pt];
    if (!map) continue; // a dynamic type without rtpmap: unusable (RFC 8866 §6.6)
    out.push({
      pt,
      name: map.name,
      clockRate: map.clockRate,
      channels: map.channels,
      fmtp: fmtps.get(pt),
      rtcpFb: [...(fbs.get('*') ?? []), ...(fbs.get(f) ?? [])],
    });
  }
  return out;
}

function ssrcOf(m: SdpMedia): { ssrc: number | undefined; cname: string | undefined } {
  // RFC 5576 §4.2: with an FID group (RFC 5576 §4.3; RTX, RFC 4588) the first SSRC is the media one.
  let ssrc: number | undefined;
  for (const g of attributeValues(m.attributes, 'ssrc-group')) {
    const r = /^FID\s+(\d+)/.exec(g);
    if (r) {
      ssrc = Number(r[1]);
      break;
    }
  }
  let cname: string | undefined;
  for (const v of attributeValues(m.attributes, 'ssrc')) {
    const r = /^(\d+)(?:\s+([^:\s]+)(?::(.*))?)?$/.exec(v);
    if (!r) continue;
    const id = Number(r[1]);
    if (!(id >= 0 && id <= 0xffffffff)) continue;
    ssrc ??= id;
    if (id === ssrc && r[2] === 'cname' && r[3]) cname = r[3];
  }
  return { ssrc, cname };
}

/** Extract the facts of every m= line. */
export function describe(sdp: SessionDescription): DescriptionFacts {
  const sessionDirection = directionOf(sdp.attributes) ?? 'sendrecv';
  const sessionFingerprints = attributeValues(sdp.attributes, 'fingerprint');
  const sessionUfrag = attributeValue(sdp.attributes, 'ice-ufrag');
  const sessionPwd = attributeValue(sdp.attributes, 'ice-pwd');
  const sessionSetup = attributeValue(sdp.attributes, 'setup');
  const media = sdp.media.map((m, index): MediaFacts => {
    const crypto: CryptoAttribute[] = [];
    for (const v of attributeValues(m.attributes, 'crypto')) {
      const c = parseCrypto(v);
      if (c) crypto.push(c);
    }
    const fingerprints = [...attributeValues(m.attributes, 'fingerprint'), ...sessionFingerprints]
      .map((v) => /^(\S+)\s+([0-9A-Fa-f:]+)$/.exec(v.trim()))
      .filter((r): r is RegExpExecArray => !!r)
      .map((r) => ({ algorithm: r[1]!.toLowerCase(), value: r[2]!.toUpperCase() }));
    const iceUfrag = attributeValue(m.attributes, 'ice-ufrag') ?? sessionUfrag;
    const icePwd = attributeValue(m.attributes, 'ice-pwd') ?? sessionPwd;
    const { profile, opportunistic } = profileOf(m.proto, fingerprints.length > 0, !!iceUfrag && !!icePwd, crypto);
    const rtcp = attributeValue(m.attributes, 'rtcp');
    const rtcpPort = rtcp !== undefined && /^\d+/.test(rtcp) ? Number(/^\d+/.exec(rtcp)![0]) : undefined;
    const ptime = attributeValue(m.attributes, 'ptime');
    return {
      index,
      kind: m.kind,
      port: m.port,
      proto: m.proto,
      formats: m.formats,
      profile,
      opportunistic,
      codecs: codecsOf(m),
      direction: directionOf(m.attributes) ?? sessionDirection,
      address: (m.connection ?? sdp.connection)?.address,
      rtcpPort: rtcpPort !== undefined && rtcpPort > 0 && rtcpPort <= 65535 ? rtcpPort : undefined,
      rtcpMux: hasAttribute(m.attributes, 'rtcp-mux'),
      ...ssrcOf(m),
      crypto,
      iceUfrag,
      icePwd,
      fingerprints,
      setup: attributeValue(m.attributes, 'setup') ?? sessionSetup,
      mid: attributeValue(m.attributes, 'mid'),
      ptime: ptime !== undefined && /^\d+$/.test(ptime) ? Number(ptime) : undefined,
    };
  });
  const firstActive = media.find((m) => m.port !== 0 && isRtpProto(m.proto) && (m.kind === 'audio' || m.kind === 'video'));
  return { origin: sdp.origin, media, profile: firstActive ? firstActive.profile : 'none' };
}

/**
 * Does this endpoint take media at all on this stream? RFC 3264 §8.4 also honours c=0.0.0.0 as
 * hold, but not with ICE: there c= is a placeholder (RFC 8839 §5.1; JSEP writes 0.0.0.0 and port
 * 9 for every bundled m= line but the first, RFC 8829 §5.2.1), and candidates say where media goes.
 */
export function receives(m: Pick<MediaFacts, 'direction' | 'address' | 'port' | 'iceUfrag'>): boolean {
  if (m.port === 0) return false;
  if (!m.iceUfrag && (m.address === '0.0.0.0' || m.address === '::')) return false;
  return m.direction === 'sendrecv' || m.direction === 'recvonly';
}

export function sends(m: Pick<MediaFacts, 'direction' | 'port'>): boolean {
  return m.port !== 0 && (m.direction === 'sendrecv' || m.direction === 'sendonly');
}

/**
 * This side's direction as the other side must hear it: we relay media, so what this side sends
 * the other receives and the other's offer or answer mirrors it (RFC 3264 §6.1, §8.4). The legacy
 * hold (c=0.0.0.0 with sendrecv, RFC 3264 §8.4) becomes sendonly: that side takes no media.
 */
export function effectiveDirection(m: Pick<MediaFacts, 'direction' | 'address' | 'port' | 'iceUfrag'>): Direction {
  const s = sends(m);
  const r = receives(m);
  return s && r ? 'sendrecv' : s ? 'sendonly' : r ? 'recvonly' : 'inactive';
}

export function requireRtpAudio(facts: DescriptionFacts): void {
  if (!facts.media.some((m) => m.kind === 'audio' && m.port !== 0 && isRtpProto(m.proto))) {
    throw new SdpError('no active RTP audio stream', 304);
  }
}
