/**
 * The privacy indicator's inputs: media protection from SDP (RFC 5763/8842 DTLS-SRTP, RFC 4568
 * SDES, RFC 3551 plain RTP), hold from direction attributes (RFC 3264 §8.4), and the rule that
 * "end-to-end encrypted" needs frames moving through the E2EE transform both ways.
 */
import { describe, expect, it } from 'vitest';
import { privacyOf } from '../../../web-client/src/privacy/indicator.ts';
import { hasTelephoneEvent, hasVideo, isRemoteHold, mediaSections, transportSecurity } from '../../../web-client/src/privacy/sdp-security.ts';

const head = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
const sdp = (...lines: string[]) => [...head, ...lines].join('\r\n') + '\r\n';

const WEBRTC = sdp(
  'a=fingerprint:sha-256 AB:CD',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 126',
  'a=rtpmap:111 opus/48000/2',
  'a=rtpmap:126 telephone-event/8000',
  'a=sendrecv',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'a=rtpmap:96 VP8/90000',
  'a=sendrecv',
);
const SDES = sdp('m=audio 4000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd', 'a=rtpmap:0 PCMU/8000');
const PLAIN = sdp('m=audio 4000 RTP/AVP 0 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000');

describe('transportSecurity', () => {
  it.each([
    ['WebRTC (DTLS-SRTP, session-level fingerprint)', WEBRTC, 'dtls-srtp'],
    ['SDES-SRTP (keys in the SDP)', SDES, 'sdes-srtp'],
    ['plain RTP/AVP', PLAIN, 'plain'],
    ['a plain stream beside an encrypted one', WEBRTC + 'm=audio 5000 RTP/AVP 0\r\n', 'plain'],
    ['a disabled plain stream (port 0) beside an encrypted one', WEBRTC + 'm=audio 0 RTP/AVP 0\r\n', 'dtls-srtp'],
    ['no media at all', sdp(), 'none'],
  ])('%s → %s', (_what, text, level) => {
    expect(transportSecurity(text)).toBe(level);
  });
});

describe('SDP details', () => {
  it('reads kind, port, direction and codecs per m= section', () => {
    const [audio, video] = mediaSections(WEBRTC);
    expect(audio).toMatchObject({ kind: 'audio', port: 9, direction: 'sendrecv', fingerprint: true, codecs: ['opus', 'telephone-event'] });
    expect(video).toMatchObject({ kind: 'video', codecs: ['vp8'] });
  });

  it('detects hold: all active streams sendonly/inactive, or c=0.0.0.0', () => {
    expect(isRemoteHold(WEBRTC)).toBe(false);
    expect(isRemoteHold(WEBRTC.replaceAll('a=sendrecv', 'a=sendonly'))).toBe(true);
    expect(isRemoteHold(WEBRTC.replaceAll('a=sendrecv', 'a=inactive'))).toBe(true);
    expect(isRemoteHold(WEBRTC.replace('a=sendrecv', 'a=sendonly'))).toBe(false);
    expect(isRemoteHold(PLAIN.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'))).toBe(true);
    expect(isRemoteHold(sdp('a=sendonly', 'm=audio 4000 RTP/AVP 0'))).toBe(true);
  });

  it('sees telephone-event and video', () => {
    expect(hasTelephoneEvent(WEBRTC)).toBe(true);
    expect(hasTelephoneEvent(SDES)).toBe(false);
    expect(hasVideo(WEBRTC)).toBe(true);
    expect(hasVideo(PLAIN)).toBe(false);
    expect(hasVideo(WEBRTC.replace('m=video 9', 'm=video 0'))).toBe(false);
  });
});

describe('privacyOf', () => {
  const c = (encryptedFrames: number, decryptedFrames: number, decryptFailures = 0) => ({ encryptedFrames, decryptedFrames, decryptFailures });

  it('maps the transport when there is no E2EE', () => {
    expect(privacyOf('dtls-srtp').label).toBe('Encrypted in transit');
    expect(privacyOf('sdes-srtp').label).toBe('Encrypted up to the server');
    expect(privacyOf('plain').label).toBe('Not encrypted');
    expect(privacyOf(undefined).level).toBe('unknown');
  });

  it('says end-to-end only when frames were both encrypted and decrypted since the last sample', () => {
    expect(privacyOf('dtls-srtp', c(10, 10), c(5, 5)).level).toBe('e2ee');
    expect(privacyOf('dtls-srtp', c(10, 10), c(5, 5)).label).toBe('End-to-end encrypted');
    // The silent failure: a transform attached too late sees no frames at all.
    expect(privacyOf('dtls-srtp', c(0, 0), c(0, 0)).level).toBe('in-transit');
    expect(privacyOf('dtls-srtp', c(10, 5), c(5, 5)).level).toBe('in-transit');
    expect(privacyOf('dtls-srtp', c(5, 10), c(5, 5)).level).toBe('in-transit');
    expect(privacyOf('dtls-srtp', c(10, 10, 1), c(5, 5, 0)).level).toBe('in-transit');
    expect(privacyOf('dtls-srtp', c(10, 10)).level).toBe('in-transit');
    expect(privacyOf('plain', c(10, 10), c(5, 5)).level).toBe('none');
  });

  it('on hold asks only for the directions media flows in (RFC 3264 §8.4 sendonly/inactive)', () => {
    const sendOnly = { sending: true, receiving: false };
    const inactive = { sending: false, receiving: false };
    // We hold (sendonly): only our frames move.
    expect(privacyOf('dtls-srtp', c(10, 5), c(5, 5), sendOnly).level).toBe('e2ee');
    expect(privacyOf('dtls-srtp', c(5, 5), c(5, 5), sendOnly).level).toBe('in-transit');
    // Nothing flows at all: the level proven before stays, and only that.
    expect(privacyOf('dtls-srtp', c(5, 5), c(5, 5), inactive, 'e2ee').level).toBe('e2ee');
    expect(privacyOf('dtls-srtp', c(5, 5), c(5, 5), inactive, 'in-transit').level).toBe('in-transit');
    expect(privacyOf('dtls-srtp', c(5, 5), c(5, 5), inactive).level).toBe('in-transit');
    // Failures still count.
    expect(privacyOf('dtls-srtp', c(10, 5, 1), c(5, 5, 0), sendOnly).level).toBe('in-transit');
  });
});
