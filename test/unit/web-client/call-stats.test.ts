/** getStats() summaries (W3C webrtc-stats: inbound-rtp, outbound-rtp, candidate-pair). */
import { describe, expect, it } from 'vitest';
import { summarizeStats } from '../../../web-client/src/media/call-stats.ts';

describe('summarizeStats', () => {
  it('adds up inbound audio packets and video frames and finds the RTT', () => {
    const s = summarizeStats([
      { type: 'inbound-rtp', kind: 'audio', packetsReceived: 100, packetsLost: 2, jitter: 0.004 },
      { type: 'inbound-rtp', kind: 'video', framesDecoded: 50, framesPerSecond: 25, frameWidth: 640, frameHeight: 480 },
      { type: 'outbound-rtp', kind: 'audio', packetsSent: 99 },
      { type: 'outbound-rtp', kind: 'video', framesSent: 48 },
      { type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.012 },
      { type: 'candidate-pair', nominated: false, state: 'failed', currentRoundTripTime: 9 },
      { type: 'codec', mimeType: 'audio/opus' },
    ]);
    expect(s.audio).toEqual({ packetsReceived: 100, packetsLost: 2, jitterMs: 4, packetsSent: 99 });
    expect(s.video).toEqual({ framesDecoded: 50, framesPerSecond: 25, frameWidth: 640, frameHeight: 480, framesSent: 48 });
    expect(s.rttMs).toBeCloseTo(12);
  });

  it('gives zeros when nothing has arrived, and ignores junk values', () => {
    const s = summarizeStats([{ type: 'inbound-rtp', kind: 'audio', packetsReceived: 'x' }]);
    expect(s.audio.packetsReceived).toBe(0);
    expect(s.video.framesDecoded).toBe(0);
    expect(s.rttMs).toBeUndefined();
  });
});
