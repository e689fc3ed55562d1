/**
 * The descriptions the bridge writes for each side of a call, from the negotiation's plan
 * (negotiation.ts) and the mediasoup transport that serves that side. Nothing of the other side's
 * transport leaks across: each side sees the server as its peer.
 *
 * Toward the WebRTC side (JSEP, RFC 8829; what Chromium and Firefox accept): one BUNDLE group
 * (RFC 8843) over one ICE-lite (RFC 8445 §2.5) transport with DTLS-SRTP (RFC 5763, RFC 5764),
 * rtcp-mux (RFC 5761), the sender's SSRC and cname (RFC 5576) and msid (RFC 8830). No RTP header
 * extensions are negotiated: mediasoup numbers its own extensions while the browser keeps the ones
 * it offered, and without extensions both agree (SSRCs identify the streams).
 *
 * A session-level `a=sotto-bridge:<sdes-srtp|rtp>` (RFC 8866 §5.13: unknown attributes are
 * ignored) tells the Sotto web client that its media ends at the server and how the far leg is
 * protected, so that it shows "encrypted up to the server" or "not encrypted" rather than the
 * DTLS-SRTP of its own leg, and leaves end-to-end encryption off (the phone cannot decrypt SFrame).
 *
 * Toward the phone side (RFC 3264 with RFC 3551 RTP/AVP): a plain m= line with the
 * PlainTransport's address, a=rtcp for the separate RTCP port (RFC 3605), a=crypto for SDES-SRTP
 * (RFC 4568), kept under RTP/AVP when the phone offered it so (opportunistic SRTP, RFC 8643).
 *
 * Pure: no I/O.
 */
import type { StreamKind } from './codecs.ts';
import type { DescriptionPlan, LinePlan, Stream } from './negotiation.ts';
import type { SdpCodec } from './sdp-facts.ts';
import { formatCrypto, type SrtpSuite } from './sdes.ts';

export interface WebTransportInfo {
  iceParameters: { usernameFragment: string; password: string };
  iceCandidates: readonly { foundation: string; priority: number; ip: string; protocol: string; port: number; type: string; tcpType?: string }[];
  fingerprint: { algorithm: string; value: string };
  /** RFC 4145 / RFC 5763 §5: actpass in offers; in answers the role we take. */
  setup: 'actpass' | 'active' | 'passive';
}

export interface PhoneTransportInfo {
  ip: string;
  port: number;
  rtcpPort: number | undefined;
  rtcpMux: boolean;
  proto: string;
  crypto: { tag: number; suite: SrtpSuite; keyBase64: string } | undefined;
}

/** The SSRC the bridge sends toward a side on a stream (its consumer's), with a cname. */
export interface SenderInfo {
  ssrc: number;
  cname: string;
}

/** How the far leg of a bridged call is protected, as the web client is told. */
export type FarLeg = 'sdes-srtp' | 'rtp';

export const BRIDGE_ATTRIBUTE = 'sotto-bridge';

function ipVersion(ip: string): 'IP4' | 'IP6' {
  return ip.includes(':') ? 'IP6' : 'IP4';
}

function codecLines(kind: StreamKind, codecs: readonly SdpCodec[], feedback: boolean): string[] {
  const out: string[] = [];
  for (const c of codecs) {
    const opus = c.name.toLowerCase() === 'opus';
    const channels = opus ? 2 : c.channels && c.channels > 1 ? c.channels : undefined;
    out.push(`a=rtpmap:${c.pt} ${c.name}/${c.clockRate}${channels ? `/${channels}` : ''}`);
    if (c.fmtp) out.push(`a=fmtp:${c.pt} ${c.fmtp}`);
    if (feedback && kind === 'video') out.push(`a=rtcp-fb:${c.pt} nack`, `a=rtcp-fb:${c.pt} nack pli`, `a=rtcp-fb:${c.pt} ccm fir`);
  }
  return out;
}

function refusedLines(r: { kind: string; proto: string; formats: string[]; mid: string | undefined }): string[] {
  // RFC 3264 §6: a refused stream is answered with port 0 and the offer's formats.
  const out = [`m=${r.kind} 0 ${r.proto} ${r.formats.length ? r.formats.join(' ') : '0'}`];
  if (r.mid !== undefined) out.push(`a=mid:${r.mid}`);
  return out;
}

function formats(codecs: readonly SdpCodec[]): string {
  return codecs.map((c) => c.pt).join(' ');
}

function isActive(l: LinePlan): l is Extract<LinePlan, { stream: Stream }> {
  return 'stream' in l && l.active;
}

/** The description for the WebRTC side. */
export function writeWebDescription(plan: DescriptionPlan, t: WebTransportInfo, senders: ReadonlyMap<Stream, SenderInfo>, farLeg: FarLeg): string {
  const first = t.iceCandidates.find((c) => c.protocol === 'udp') ?? t.iceCandidates[0];
  if (!first) throw new Error('the WebRTC transport has no ICE candidate');
  const ip = first.ip;
  const bundle = plan.lines.filter(isActive).map((l) => l.stream.mid);
  const out = [
    'v=0',
    `o=- ${plan.origin.sessionId} ${plan.origin.version} IN ${ipVersion(ip)} ${ip}`,
    's=-',
    't=0 0',
    'a=ice-lite',
    ...(bundle.length ? [`a=group:BUNDLE ${bundle.join(' ')}`] : []),
    'a=msid-semantic: WMS *',
    `a=${BRIDGE_ATTRIBUTE}:${farLeg}`,
  ];
  for (const l of plan.lines) {
    if ('refused' in l) {
      out.push(...refusedLines(l.refused));
      continue;
    }
    const s = l.stream;
    if (!l.active) {
      out.push(...refusedLines({ kind: s.kind, proto: 'UDP/TLS/RTP/SAVPF', formats: l.codecs.map((c) => String(c.pt)), mid: s.mid }));
      continue;
    }
    out.push(`m=${s.kind} ${first.port} UDP/TLS/RTP/SAVPF ${formats(l.codecs)}`, `c=IN ${ipVersion(ip)} ${ip}`);
    out.push(`a=mid:${s.mid}`, `a=ice-ufrag:${t.iceParameters.usernameFragment}`, `a=ice-pwd:${t.iceParameters.password}`);
    out.push(`a=fingerprint:${t.fingerprint.algorithm} ${t.fingerprint.value}`, `a=setup:${t.setup}`);
    out.push(`a=${l.direction}`, 'a=rtcp-mux', 'a=rtcp-rsize');
    out.push(...codecLines(s.kind, l.codecs, true));
    const sender = senders.get(s);
    if (sender) {
      out.push(`a=ssrc:${sender.ssrc} cname:${sender.cname}`, `a=msid:sotto sotto-${s.kind}-${s.mid}`);
    }
    for (const c of t.iceCandidates) {
      // RFC 8839 §5.1; component 1 only (rtcp-mux).
      out.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}${c.tcpType ? ` tcptype ${c.tcpType}` : ''}`);
    }
    out.push('a=end-of-candidates');
  }
  return out.join('\r\n') + '\r\n';
}

/**
 * The description for the phone side: one PlainTransport per stream (a phone does not bundle), each
 * with its own port and, for SDES-SRTP, its own keys (RFC 4568 §6.1: keys are per m= line).
 */
export function writePhoneDescription(plan: DescriptionPlan, address: string, transports: ReadonlyMap<Stream, PhoneTransportInfo>, senders: ReadonlyMap<Stream, SenderInfo>): string {
  const out = ['v=0', `o=- ${plan.origin.sessionId} ${plan.origin.version} IN ${ipVersion(address)} ${address}`, 's=-', `c=IN ${ipVersion(address)} ${address}`, 't=0 0'];
  for (const l of plan.lines) {
    if ('refused' in l) {
      out.push(...refusedLines({ ...l.refused, mid: undefined }));
      continue;
    }
    const s = l.stream;
    const t = transports.get(s);
    if (!l.active || !t) {
      out.push(...refusedLines({ kind: s.kind, proto: t?.proto ?? 'RTP/AVP', formats: l.codecs.map((c) => String(c.pt)), mid: undefined }));
      continue;
    }
    out.push(`m=${s.kind} ${t.port} ${t.proto} ${formats(l.codecs)}`);
    if (t.ip !== address) out.push(`c=IN ${ipVersion(t.ip)} ${t.ip}`);
    if (t.rtcpMux) out.push('a=rtcp-mux');
    else if (t.rtcpPort !== undefined) out.push(`a=rtcp:${t.rtcpPort}`);
    out.push(...codecLines(s.kind, l.codecs, /F$/i.test(t.proto)));
    if (s.kind === 'audio') out.push('a=ptime:20');
    out.push(`a=${l.direction}`);
    if (t.crypto) out.push(`a=crypto:${formatCrypto(t.crypto.tag, t.crypto.suite, t.crypto.keyBase64)}`);
    const sender = senders.get(s);
    if (sender) out.push(`a=ssrc:${sender.ssrc} cname:${sender.cname}`);
  }
  return out.join('\r\n') + '\r\n';
}

/** The far-leg attribute of a description the bridge wrote, if any. */
export function farLegOf(sdp: string): FarLeg | undefined {
  const m = new RegExp(`^a=${BRIDGE_ATTRIBUTE}:(sdes-srtp|rtp)\\s*$`, 'm').exec(sdp);
  return m ? (m[1] as FarLeg) : undefined;
}

/**
 * An answer that refuses every stream of an offer (RFC 3264 §6: port 0, the offer's formats), for
 * when the bridge cannot use the answer it got: the call is set up in SIP (the 2xx cannot be
 * undone by a proxy), carries no media, and the offerer ends it.
 */
export function writeRefusal(offer: { media: readonly { kind: string; proto: string; formats: readonly string[]; mid?: string | undefined }[] }, address: string): string {
  const out = ['v=0', `o=- ${Date.now()} 1 IN ${ipVersion(address)} ${address}`, 's=-', `c=IN ${ipVersion(address)} ${address}`, 't=0 0'];
  for (const m of offer.media) out.push(...refusedLines({ kind: m.kind, proto: m.proto, formats: [...m.formats], mid: m.mid }));
  return out.join('\r\n') + '\r\n';
}
