/**
 * The offer/answer state of one bridged call (RFC 3264), kept apart from mediasoup so that it can
 * be tested alone: which m= lines of each side's descriptions carry which bridged stream, the
 * codecs of each stream, and the directions each side asked for.
 *
 * A call has two sides: `web` (a WebRTC endpoint, ICE + DTLS-SRTP) and `phone` (RTP or SDES-SRTP).
 * Each side sees its own sequence of descriptions; the bridge answers an offer from one side only
 * after forwarding an offer to the other side and getting its answer, so that the codecs and
 * directions agreed are those both ends accept (no transcoding, RFC 3264 §6.1 rules per leg).
 *
 * At most one audio and one video stream are bridged: the first of each kind the first offer
 * carries with a codec the bridge can pass (codecs.ts). Other m= lines are refused with port 0
 * (RFC 3264 §6) and never reach the other side. Later offers keep the lines (RFC 3264 §8: a line
 * is never removed); lines added later are refused, since the call's Router was made for the
 * first offer's codecs.
 *
 * Pure: no I/O.
 */
import type { types } from 'mediasoup';
import { acceptedCodecs, bridgeableCodecs, intersect, routerCodecs, type StreamKind } from './codecs.ts';
import { effectiveDirection, receives, type DescriptionFacts, type Direction, type MediaFacts, type SdpCodec } from './sdp-facts.ts';
import { SdpError } from './sdp.ts';

export type Side = 'web' | 'phone';

export function otherSide(s: Side): Side {
  return s === 'web' ? 'phone' : 'web';
}

/** The transport profiles a side's descriptions must have (sdp-facts.ts). */
export function sideOf(profile: DescriptionFacts['profile']): Side | undefined {
  if (profile === 'webrtc') return 'web';
  if (profile === 'plain' || profile === 'sdes') return 'phone';
  return undefined;
}

export interface Stream {
  kind: StreamKind;
  /** The codecs the Router has for this stream, with the first offerer's numbers. */
  readonly codecs: SdpCodec[];
  /** What both sides accepted in the last completed offer/answer; empty when refused. */
  negotiated: SdpCodec[] | undefined;
  /** The last description facts each side gave for this stream. */
  readonly facts: Record<Side, MediaFacts | undefined>;
  /** The MID of the stream in the web side's descriptions (RFC 8843). */
  mid: string;
}

/** One m= line of the descriptions exchanged with a side. */
type Line = { stream: Stream } | { refused: { kind: string; proto: string; formats: string[]; mid: string | undefined } };

/** What to write for one m= line of a description for a side. */
export type LinePlan =
  | { stream: Stream; codecs: SdpCodec[]; direction: Direction; active: boolean }
  | { refused: { kind: string; proto: string; formats: string[]; mid: string | undefined } };

export interface DescriptionPlan {
  to: Side;
  lines: LinePlan[];
  origin: { sessionId: string; version: string };
}

interface Pending {
  from: Side;
  /** Codecs put in the offer to the other side, per stream. */
  offered: Map<Stream, SdpCodec[]>;
  /** Directions the offerer asked for, per stream. */
  directions: Map<Stream, Direction>;
}

function isBridgeableLine(m: MediaFacts, side: Side): m is MediaFacts & { kind: StreamKind } {
  if (m.kind !== 'audio' && m.kind !== 'video') return false;
  if (m.port === 0) return false;
  return side === 'web' ? m.profile === 'webrtc' : m.profile === 'plain' || m.profile === 'sdes';
}

export class CallNegotiation {
  readonly streams: Stream[] = [];
  readonly #lines: Record<Side, Line[]> = { web: [], phone: [] };
  readonly #origin: Record<Side, { sessionId: string; version: bigint }>;
  #routerCodecs: types.RtpCodecCapability[] | undefined;
  #pending: Pending | undefined;

  /** `sessionIds`: the o= session ids to use toward each side (numeric text, RFC 8866 §5.2). */
  constructor(sessionIds: Record<Side, string>) {
    this.#origin = { web: { sessionId: sessionIds.web, version: 0n }, phone: { sessionId: sessionIds.phone, version: 0n } };
  }

  /** The Router's codecs, fixed by the first offer. */
  get routerCodecs(): types.RtpCodecCapability[] | undefined {
    return this.#routerCodecs;
  }

  get pendingFrom(): Side | undefined {
    return this.#pending?.from;
  }

  stream(kind: StreamKind): Stream | undefined {
    return this.streams.find((s) => s.kind === kind);
  }

  /**
   * An offer from `from`: returns the offer to write for the other side. Throws SdpError (for a
   * 488) when nothing can be bridged: no audio the other side could take, or a wrong transport.
   */
  offer(from: Side, facts: DescriptionFacts): DescriptionPlan {
    const to = otherSide(from);
    if (facts.profile !== 'none' && sideOf(facts.profile) !== from) {
      throw new SdpError(`expected a ${from === 'web' ? 'WebRTC (UDP/TLS/RTP/SAVPF with ICE)' : 'RTP/AVP or RTP/SAVP'} description`, 302);
    }
    if (this.streams.length === 0) this.#firstOffer(from, facts);
    else this.#laterOffer(from, facts);
    const pending: Pending = { from, offered: new Map(), directions: new Map() };
    for (const s of this.streams) {
      const f = s.facts[from];
      const base = s.negotiated && s.negotiated.length ? s.negotiated : s.codecs;
      const codecs = f && f.port !== 0 ? intersect(s.kind, base, f.codecs) : [];
      pending.offered.set(s, codecs);
      pending.directions.set(s, f && codecs.length ? effectiveDirection(f) : 'inactive');
    }
    if (!this.streams.some((s) => s.kind === 'audio' && pending.offered.get(s)!.length)) {
      throw new SdpError('the offer keeps none of the call\'s audio codecs', 305);
    }
    this.#pending = pending;
    const lines: LinePlan[] = this.#lines[to].map((l) => {
      if ('refused' in l) return l;
      const codecs = pending.offered.get(l.stream)!;
      return { stream: l.stream, codecs: codecs.length ? codecs : l.stream.codecs, direction: pending.directions.get(l.stream)!, active: codecs.length > 0 };
    });
    return { to, lines, origin: this.#nextOrigin(to) };
  }

  #firstOffer(from: Side, facts: DescriptionFacts): void {
    const candidates: { line: MediaFacts & { kind: StreamKind }; codecs: SdpCodec[] }[] = [];
    let reason = 'no audio stream';
    for (const m of facts.media) {
      if (!isBridgeableLine(m, from) || candidates.some((c) => c.line.kind === m.kind)) continue;
      const codecs = bridgeableCodecs(m.kind, m.codecs);
      if (codecs.length) candidates.push({ line: m, codecs });
      else if (m.kind === 'audio') reason = 'no audio codec in common (the bridge passes Opus, G.722, PCMU and PCMA, without transcoding)';
    }
    if (!candidates.some((c) => c.line.kind === 'audio')) throw new SdpError(reason, 305);
    const { codecs: router, dropped } = routerCodecs(candidates.map((c) => ({ kind: c.line.kind, codecs: c.codecs })));
    this.#routerCodecs = router;
    let mid = 0;
    for (const c of candidates) {
      const kept = c.codecs.filter((x) => !dropped.some((d) => d.codec === x));
      if (!kept.some((x) => x.name.toLowerCase() !== 'telephone-event')) continue;
      this.streams.push({
        kind: c.line.kind,
        codecs: kept,
        negotiated: undefined,
        facts: { web: undefined, phone: undefined, [from]: c.line },
        // The web side's own MIDs when it offered; ours otherwise.
        mid: from === 'web' ? (c.line.mid ?? String(mid)) : String(mid),
      });
      mid++;
    }
    if (!this.stream('audio')) throw new SdpError('no audio codec in common', 305);
    this.#lines[from] = facts.media.map((m): Line => {
      const s = this.streams.find((x) => x.facts[from] === m);
      return s ? { stream: s } : { refused: { kind: m.kind, proto: m.proto, formats: m.formats, mid: m.mid } };
    });
    this.#lines[otherSide(from)] = this.streams.map((s) => ({ stream: s }));
  }

  #laterOffer(from: Side, facts: DescriptionFacts): void {
    const lines = this.#lines[from];
    if (facts.media.length < lines.length) throw new SdpError('an offer may not remove m= lines (RFC 3264 §8)', 399);
    facts.media.forEach((m, i) => {
      const line = lines[i];
      if (!line) {
        lines.push({ refused: { kind: m.kind, proto: m.proto, formats: m.formats, mid: m.mid } });
        return;
      }
      if ('stream' in line) {
        if (m.port !== 0 && !isBridgeableLine(m, from)) throw new SdpError(`m= line ${i + 1} changed its transport`, 302);
        line.stream.facts[from] = m;
      }
    });
  }

  /**
   * The answer from `from` to the offer we sent it: returns the answer to write for the side that
   * offered. Throws SdpError when the answer does not fit the offer (RFC 3264 §6: same m= lines).
   */
  answer(from: Side, facts: DescriptionFacts): DescriptionPlan {
    const pending = this.#pending;
    if (!pending || pending.from === from) throw new SdpError('an answer without an offer', 399);
    const lines = this.#lines[from];
    if (facts.media.length !== lines.length) throw new SdpError(`the answer has ${facts.media.length} m= lines, the offer ${lines.length} (RFC 3264 §6)`, 399);
    if (facts.profile !== 'none' && sideOf(facts.profile) !== from) throw new SdpError('the answer changed the transport profile', 302);
    facts.media.forEach((m, i) => {
      const line = lines[i]!;
      if (!('stream' in line)) return;
      const s = line.stream;
      const offered = pending.offered.get(s) ?? [];
      s.facts[from] = m;
      const accepted = m.port === 0 || !offered.length ? [] : acceptedCodecs(s.kind, offered, m.codecs).codecs;
      s.negotiated = accepted;
    });
    this.#pending = undefined;
    const to = pending.from;
    const out: LinePlan[] = this.#lines[to].map((l) => {
      if ('refused' in l) return l;
      const s = l.stream;
      const f = s.facts[from];
      const active = !!s.negotiated?.length && !!f;
      return { stream: s, codecs: active ? s.negotiated! : s.codecs, direction: active ? effectiveDirection(f) : 'inactive', active };
    });
    return { to, lines: out, origin: this.#nextOrigin(to) };
  }

  /** The offer failed (a non-2xx to a re-INVITE, RFC 3261 §14.1): the previous state stands. */
  cancelOffer(): void {
    this.#pending = undefined;
  }

  /** Should media flow toward `side` on this stream (it accepted the stream and takes media)? */
  flowsTo(s: Stream, side: Side): boolean {
    const f = s.facts[side];
    return !!s.negotiated?.length && !!f && receives(f);
  }

  #nextOrigin(side: Side): { sessionId: string; version: string } {
    // RFC 3264 §8: each new description to a side increments the o= version by one.
    const o = this.#origin[side];
    o.version += 1n;
    return { sessionId: o.sessionId, version: String(o.version) };
  }
}
