/**
 * Codec choice for bridged calls, without transcoding: a stream is bridged only with a codec both
 * ends can use, so mediasoup forwards packets unchanged. Audio: Opus (RFC 7587), G.722, PCMU and
 * PCMA (RFC 3551 §4.5.14, §4.5.2); telephone-event (RFC 4733) passes at the clock rate of the
 * audio codec it goes with. Video: VP8 (RFC 7741) and H.264 (RFC 6184). Payload type numbers are
 * the offerer's throughout (RFC 3264 §6.1: the answer SHOULD use the offer's numbers), which is
 * why each call gets a mediasoup Router of its own, built from the first offer.
 *
 * Pure: no I/O.
 */
import type { types } from 'mediasoup';
import type { RtcpFeedback, SdpCodec } from './sdp-facts.ts';

type RtpCapabilities = types.RtpCapabilities;
type RtpCodecCapability = types.RtpCodecCapability;
type RtpCodecParameters = types.RtpCodecParameters;
type MsRtcpFeedback = types.RtcpFeedback;

export type StreamKind = 'audio' | 'video';

const AUDIO = new Set(['opus/48000', 'g722/8000', 'pcmu/8000', 'pcma/8000']);
/**
 * telephone-event passes only at 8 kHz, the clock of G.711 and G.722's RTP (RFC 3551 §4.5.2):
 * see TELEPHONE_EVENT_ALIAS. An Opus call gets no telephone-event, so the browser sends its tones
 * by SIP INFO, which the proxy forwards like any in-dialog request.
 */
const TELEPHONE_EVENT_RATES = new Set([8000]);

/**
 * mediasoup 3.12 forwards through a Consumer only packets whose payload type is a *media* codec
 * (worker/src/RTC/Consumer.cpp supportedCodecPayloadTypes: RtpCodecMimeType::IsMediaCodec), and
 * telephone-event is a "complementary" codec there: RFC 4733 events would be dropped. So inside
 * mediasoup the bridge calls telephone-event/8000 by the name of a media codec with the same
 * clock rate that it never bridges for real (iLBC, RFC 3952), under the event's own payload type.
 * mediasoup does not look into audio payloads, so the events pass unchanged, with their sequence
 * numbers and timestamps rewritten like the audio of the same SSRC (RFC 4733 §2.1: same SSRC and
 * clock as the audio). The SDP of both legs still says telephone-event.
 */
const TELEPHONE_EVENT_ALIAS = 'audio/iLBC';
const VIDEO = new Set(['vp8/90000', 'h264/90000']);

export function isTelephoneEvent(c: Pick<SdpCodec, 'name'>): boolean {
  return c.name.toLowerCase() === 'telephone-event';
}

/** The channel count RFC 7587 §7 fixes for Opus ("opus/48000/2" always), 1 for other audio. */
function channelsOf(c: Pick<SdpCodec, 'name' | 'channels'>, kind: StreamKind): number | undefined {
  if (kind === 'video') return undefined;
  if (c.name.toLowerCase() === 'opus') return 2;
  return c.channels ?? 1;
}

/** fmtp text → parameters as mediasoup takes them (numbers where the value is a number). */
export function parseFmtp(fmtp: string | undefined): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (!fmtp) return out;
  for (const part of fmtp.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue; // telephone-event's "0-15" is not key=value
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (!k) continue;
    // profile-level-id is hex text (42e01f); keep it a string even when it looks decimal.
    out[k] = /^\d{1,9}$/.test(v) && k !== 'profile-level-id' ? Number(v) : v;
  }
  return out;
}

function h264Mode(c: SdpCodec): number {
  return Number(parseFmtp(c.fmtp)['packetization-mode'] ?? 0);
}

function h264Profile(c: SdpCodec): string {
  return String(parseFmtp(c.fmtp)['profile-level-id'] ?? '42001f').toLowerCase();
}

/** Same codec for the purpose of offer/answer: name, clock rate, channels, H.264 packetization mode. */
export function sameCodec(a: SdpCodec, b: SdpCodec, kind: StreamKind): boolean {
  if (a.name.toLowerCase() !== b.name.toLowerCase() || a.clockRate !== b.clockRate) return false;
  if (channelsOf(a, kind) !== channelsOf(b, kind)) return false;
  if (a.name.toLowerCase() === 'h264') {
    // RFC 6184 §8.2.2: packetization-mode must match; the profile (first two bytes) too.
    if (h264Mode(a) !== h264Mode(b) || h264Profile(a).slice(0, 2) !== h264Profile(b).slice(0, 2)) return false;
  }
  return true;
}

function key(c: SdpCodec): string {
  return `${c.name.toLowerCase()}/${c.clockRate}`;
}

/**
 * The codecs of one offered stream the bridge can carry, in the offerer's order of preference:
 * the media codecs above (one each; for H.264 the constrained-baseline packetization-mode 1
 * variant browsers all decode, else the first one offered), then telephone-event at the clock
 * rate of a kept audio codec. Empty when no media codec is left.
 */
export function bridgeableCodecs(kind: StreamKind, offered: readonly SdpCodec[]): SdpCodec[] {
  const media: SdpCodec[] = [];
  const seen = new Set<string>();
  if (kind === 'audio') {
    for (const c of offered) {
      if (!AUDIO.has(key(c)) || seen.has(key(c))) continue;
      seen.add(key(c));
      media.push(c);
    }
    if (!media.length) return [];
    const rates = new Set(media.map((c) => c.clockRate));
    const events: SdpCodec[] = [];
    for (const c of offered) {
      if (isTelephoneEvent(c) && TELEPHONE_EVENT_RATES.has(c.clockRate) && rates.has(c.clockRate) && !events.some((e) => e.clockRate === c.clockRate)) events.push(c);
    }
    return [...media, ...events];
  }
  const h264s = offered.filter((c) => key(c) === 'h264/90000');
  const bestH264 =
    h264s.find((c) => h264Mode(c) === 1 && /^42e0/.test(h264Profile(c))) ?? h264s.find((c) => h264Mode(c) === 1) ?? h264s[0];
  for (const c of offered) {
    if (!VIDEO.has(key(c)) || seen.has(key(c))) continue;
    if (key(c) === 'h264/90000' && c !== bestH264) continue;
    seen.add(key(c));
    media.push(c);
  }
  return media;
}

/**
 * Which of the offered codecs the answer accepted (RFC 3264 §6.1), as the offer wrote them, in
 * the answer's order (the answerer's preference). `renumbered` lists codecs the answer gave another
 * payload type number: the answerer will expect that number, which one shared Router cannot send.
 */
export function acceptedCodecs(kind: StreamKind, offered: readonly SdpCodec[], answered: readonly SdpCodec[]): { codecs: SdpCodec[]; renumbered: string[] } {
  const codecs: SdpCodec[] = [];
  const renumbered: string[] = [];
  for (const a of answered) {
    const o = offered.find((c) => sameCodec(c, a, kind) && !codecs.includes(c));
    if (!o) continue;
    if (o.pt !== a.pt) renumbered.push(`${o.name}/${o.clockRate} ${o.pt}→${a.pt}`);
    codecs.push(o);
  }
  // Media codecs first: mediasoup takes the first as the stream's codec.
  codecs.sort((x, y) => Number(isTelephoneEvent(x)) - Number(isTelephoneEvent(y)));
  // Without a media codec the stream is rejected, whatever else was kept.
  if (!codecs.some((c) => !isTelephoneEvent(c))) return { codecs: [], renumbered };
  return { codecs, renumbered };
}

/** The codecs of `codecs` present in `among` (same codec, any number), in `codecs` order. */
export function intersect(kind: StreamKind, codecs: readonly SdpCodec[], among: readonly SdpCodec[]): SdpCodec[] {
  return codecs.filter((c) => among.some((a) => sameCodec(c, a, kind)));
}

function mimeType(kind: StreamKind, c: SdpCodec): string {
  const n = c.name.toLowerCase();
  if (n === 'telephone-event') return TELEPHONE_EVENT_ALIAS;
  const name = n === 'opus' ? 'opus' : n === 'telephone-event' ? 'telephone-event' : n === 'vp8' ? 'VP8' : c.name.toUpperCase();
  return `${kind}/${name}`;
}

/** Feedback mediasoup can act on for a video stream (RFC 4585 NACK and PLI, RFC 5104 FIR). */
const VIDEO_FEEDBACK: MsRtcpFeedback[] = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

/**
 * Feedback for a phone without AVPF: keyframe requests only. RFC 3550 §6.1 has receivers ignore
 * RTCP packet types they do not know, and video phones commonly answer PLI (RFC 4585 §6.3.1) and
 * FIR (RFC 5104 §4.3.1) anyway; without them a browser would wait for the phone's next periodic
 * keyframe before showing anything. No NACK: a plain RTP phone does not retransmit.
 */
export const KEYFRAME_FEEDBACK: readonly RtcpFeedback[] = [{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

function feedback(kind: StreamKind, declared: readonly RtcpFeedback[] | undefined): MsRtcpFeedback[] {
  if (kind === 'audio') return [];
  if (!declared) return VIDEO_FEEDBACK.map((f) => ({ ...f }));
  return VIDEO_FEEDBACK.filter((f) => declared.some((d) => d.type === f.type && (d.parameter ?? '') === (f.parameter ?? ''))).map((f) => ({ ...f }));
}

export function toCapability(kind: StreamKind, c: SdpCodec, rtcpFb?: readonly RtcpFeedback[]): RtpCodecCapability {
  const channels = channelsOf(c, kind);
  return {
    kind,
    mimeType: mimeType(kind, c),
    clockRate: c.clockRate,
    ...(channels !== undefined ? { channels } : {}),
    preferredPayloadType: c.pt,
    parameters: parseFmtp(c.fmtp),
    rtcpFeedback: feedback(kind, rtcpFb),
  };
}

/** A producer's or consumer's codec entry (RTP parameters) for an SDP codec. */
export function toCodecParameters(kind: StreamKind, c: SdpCodec, rtcpFb?: readonly RtcpFeedback[]): RtpCodecParameters {
  const channels = channelsOf(c, kind);
  return {
    mimeType: mimeType(kind, c),
    payloadType: c.pt,
    clockRate: c.clockRate,
    ...(channels !== undefined ? { channels } : {}),
    parameters: parseFmtp(c.fmtp),
    rtcpFeedback: feedback(kind, rtcpFb),
  };
}

/**
 * Receive capabilities of one side for one stream, for Transport.consume(). No header extensions
 * (see leg-sdp.ts). `feedback`: all of it (a browser, or a phone with AVPF, RFC 4585), or keyframe
 * requests only (KEYFRAME_FEEDBACK).
 */
export function capabilities(kind: StreamKind, codecs: readonly SdpCodec[], feedback: 'all' | 'keyframe'): RtpCapabilities {
  return { codecs: codecs.map((c) => toCapability(kind, c, feedback === 'all' ? undefined : KEYFRAME_FEEDBACK)), headerExtensions: [] };
}

/** mediasoup 3.12 ortc.ts DynamicPayloadTypes: where a Router takes the payload types it invents. */
const DYNAMIC_PAYLOAD_TYPES = [
  100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 96, 97, 98, 99,
];

/**
 * The Router's media codecs for a call: every stream's codecs with the offerer's payload types.
 * mediasoup adds an RTX codec after each video codec, numbered from its list of dynamic types as
 * it goes, and refuses two codecs with one number; numbers may also repeat across an offer's m=
 * lines (they are scoped per m= line without BUNDLE). This replays mediasoup's numbering
 * (ortc.ts generateRouterRtpCapabilities) and leaves out, with the reason, any codec that would
 * clash, audio first, so that creating the Router cannot fail on numbering.
 */
export function routerCodecs(streams: readonly { kind: StreamKind; codecs: readonly SdpCodec[] }[]): {
  codecs: RtpCodecCapability[];
  dropped: { kind: StreamKind; codec: SdpCodec }[];
} {
  const ordered = [...streams].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'audio' ? -1 : 1));
  const used = new Set<number>();
  const dynamic = [...DYNAMIC_PAYLOAD_TYPES];
  const codecs: RtpCodecCapability[] = [];
  const dropped: { kind: StreamKind; codec: SdpCodec }[] = [];
  for (const s of ordered) {
    for (const c of s.codecs) {
      if (used.has(c.pt)) {
        dropped.push({ kind: s.kind, codec: c });
        continue;
      }
      // A video codec needs a free number left for its RTX codec.
      if (s.kind === 'video' && !dynamic.some((pt) => pt !== c.pt)) {
        dropped.push({ kind: s.kind, codec: c });
        continue;
      }
      used.add(c.pt);
      const i = dynamic.indexOf(c.pt);
      if (i >= 0) dynamic.splice(i, 1);
      codecs.push(toCapability(s.kind, c, c.rtcpFb));
      if (s.kind === 'video') {
        const rtx = dynamic.shift()!;
        used.add(rtx);
      }
    }
  }
  return { codecs, dropped };
}
