/**
 * What an SDP says about how its media is protected on the wire, and which direction it wants.
 * Pure parsing of the few lines that matter (RFC 8866 §5.14 m=, §6.7 direction attributes):
 *
 * - `dtls-srtp`: an RTP/SAVP(F) profile keyed by DTLS with the peer, proven by a=fingerprint
 *   (RFC 5763, RFC 8842). The keys never pass through the server; only the fingerprints do.
 * - `sdes-srtp`: an RTP/SAVP(F) profile whose keys are written in the SDP itself, a=crypto
 *   (RFC 4568): every signalling hop, our server included, can read them.
 * - `plain`: RTP/AVP(F), no encryption at all.
 *
 * A description is as weak as its weakest active stream (port 0 means the stream is off).
 */
export type TransportSecurity = 'dtls-srtp' | 'sdes-srtp' | 'plain' | 'none';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface MediaSection {
  kind: string;
  port: number;
  proto: string;
  direction: Direction;
  fingerprint: boolean;
  crypto: boolean;
  /** payload names from a=rtpmap, lower case (e.g. "opus", "telephone-event"). */
  codecs: string[];
  /** c= connection address (media level, else session level). */
  address: string | undefined;
}

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

export function mediaSections(sdp: string): MediaSection[] {
  const lines = sdp.split(/\r?\n/);
  let sessionDirection: Direction = 'sendrecv';
  let sessionFingerprint = false;
  let sessionAddress: string | undefined;
  const out: MediaSection[] = [];
  let cur: MediaSection | undefined;
  let curDirection: Direction | undefined;
  const close = () => {
    if (cur) {
      cur.direction = curDirection ?? sessionDirection;
      cur.fingerprint ||= sessionFingerprint;
      cur.address ??= sessionAddress;
      out.push(cur);
    }
  };
  for (const line of lines) {
    if (line.startsWith('m=')) {
      close();
      const [kind = '', port = '0', proto = ''] = line.slice(2).split(' ');
      cur = { kind, port: Number(port.split('/')[0]), proto, direction: 'sendrecv', fingerprint: false, crypto: false, codecs: [], address: undefined };
      curDirection = undefined;
      continue;
    }
    const attr = line.startsWith('a=') ? line.slice(2) : undefined;
    if (attr !== undefined) {
      const name = attr.split(':')[0]!;
      if ((DIRECTIONS as readonly string[]).includes(name)) {
        if (cur) curDirection = name as Direction;
        else sessionDirection = name as Direction;
      } else if (name === 'fingerprint') {
        if (cur) cur.fingerprint = true;
        else sessionFingerprint = true;
      } else if (name === 'crypto' && cur) {
        cur.crypto = true;
      } else if (name === 'rtpmap' && cur) {
        const enc = /^rtpmap:\d+\s+([^/\s]+)/.exec(attr)?.[1];
        if (enc) cur.codecs.push(enc.toLowerCase());
      }
    } else if (line.startsWith('c=')) {
      const addr = line.split(' ')[2];
      if (cur) cur.address = addr;
      else sessionAddress = addr;
    }
  }
  close();
  return out;
}

function sectionSecurity(m: MediaSection): TransportSecurity {
  const savp = /\/SAVPF?$/i.test(m.proto);
  // UDP/TLS/RTP/SAVPF (RFC 5764 §8) or the legacy RTP/SAVPF with a fingerprint.
  if (savp && m.fingerprint) return 'dtls-srtp';
  if (savp && m.crypto) return 'sdes-srtp';
  return 'plain';
}

const RANK: Record<TransportSecurity, number> = { none: 3, 'dtls-srtp': 2, 'sdes-srtp': 1, plain: 0 };

/**
 * A description from Sotto's media bridge (server/src/media/leg-sdp.ts) ends our media at the
 * server, which relays it to a phone; its session-level a=sotto-bridge says how that far leg is
 * protected: sdes-srtp (keys in the SDP) or rtp (none).
 */
function bridgedLeg(sdp: string): TransportSecurity | undefined {
  const m = /^a=sotto-bridge:(sdes-srtp|rtp)\s*$/m.exec(sdp);
  return m ? (m[1] === 'rtp' ? 'plain' : 'sdes-srtp') : undefined;
}

/** How the media of this description is protected on the wire: that of its weakest active stream (or bridged leg). */
export function transportSecurity(sdp: string): TransportSecurity {
  let worst: TransportSecurity = 'none';
  for (const m of mediaSections(sdp)) {
    if (m.port === 0 || !/RTP/i.test(m.proto)) continue;
    const s = sectionSecurity(m);
    if (RANK[s] < RANK[worst]) worst = s;
  }
  const far = worst === 'none' ? undefined : bridgedLeg(sdp);
  return far && RANK[far] < RANK[worst] ? far : worst;
}

/**
 * Whether the far end holds the call: every active stream sendonly or inactive from its side
 * (RFC 3264 §8.4), or the pre-RFC 3264 c=0.0.0.0 form (RFC 3264 §8.4 says to accept it).
 */
export function isRemoteHold(sdp: string): boolean {
  const active = mediaSections(sdp).filter((m) => m.port !== 0);
  if (active.length === 0) return false;
  return active.every((m) => m.direction === 'sendonly' || m.direction === 'inactive' || m.address === '0.0.0.0');
}

/** Whether an active audio stream negotiated RFC 4733 telephone-event. */
export function hasTelephoneEvent(sdp: string): boolean {
  return mediaSections(sdp).some((m) => m.kind === 'audio' && m.port !== 0 && m.codecs.includes('telephone-event'));
}

/** Whether the description carries an active video stream. */
export function hasVideo(sdp: string): boolean {
  return mediaSections(sdp).some((m) => m.kind === 'video' && m.port !== 0 && m.direction !== 'inactive');
}
