/**
 * A summary of RTCPeerConnection.getStats() (W3C webrtc-stats) for the call screen and for tests:
 * whether audio and video really arrive. Pure: it reads plain stats objects, so it is tested with
 * recorded reports.
 */
export interface StatsEntry {
  type: string;
  kind?: string;
  [k: string]: unknown;
}

export interface CallStats {
  audio: { packetsReceived: number; packetsLost: number; jitterMs: number; packetsSent: number };
  video: { framesDecoded: number; framesPerSecond: number; frameWidth: number; frameHeight: number; framesSent: number };
  /** Round-trip time of the selected ICE candidate pair (ms), if known. */
  rttMs: number | undefined;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function summarizeStats(entries: Iterable<StatsEntry>): CallStats {
  const s: CallStats = {
    audio: { packetsReceived: 0, packetsLost: 0, jitterMs: 0, packetsSent: 0 },
    video: { framesDecoded: 0, framesPerSecond: 0, frameWidth: 0, frameHeight: 0, framesSent: 0 },
    rttMs: undefined,
  };
  for (const e of entries) {
    if (e.type === 'inbound-rtp' && e.kind === 'audio') {
      s.audio.packetsReceived += num(e.packetsReceived);
      s.audio.packetsLost += num(e.packetsLost);
      s.audio.jitterMs = Math.max(s.audio.jitterMs, num(e.jitter) * 1000);
    } else if (e.type === 'inbound-rtp' && e.kind === 'video') {
      s.video.framesDecoded += num(e.framesDecoded);
      s.video.framesPerSecond = Math.max(s.video.framesPerSecond, num(e.framesPerSecond));
      s.video.frameWidth = Math.max(s.video.frameWidth, num(e.frameWidth));
      s.video.frameHeight = Math.max(s.video.frameHeight, num(e.frameHeight));
    } else if (e.type === 'outbound-rtp' && e.kind === 'audio') {
      s.audio.packetsSent += num(e.packetsSent);
    } else if (e.type === 'outbound-rtp' && e.kind === 'video') {
      s.video.framesSent += num(e.framesSent);
    } else if (e.type === 'candidate-pair' && e.nominated === true && e.state === 'succeeded' && typeof e.currentRoundTripTime === 'number') {
      s.rttMs = e.currentRoundTripTime * 1000;
    }
  }
  return s;
}
