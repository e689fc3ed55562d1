import { describe, expect, it } from 'vitest';
import { E2EE_REQUIRED_STATUS, E2EE_REQUIRED_WARNING, offerPrivacy } from '../../../web-client/src/privacy/incoming-offer.ts';
import { historyEntry } from '../../../web-client/src/storage/records.ts';

const sdp = (proto: string, extra = '') => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 ${proto} 0\r\na=rtpmap:0 PCMU/8000\r\n${extra}`;

describe('privacy of an incoming call before answering', () => {
  it('plain RTP/AVP is "Not encrypted" and not end to end', () => {
    const p = offerPrivacy({ announcedE2ee: false, canE2ee: true, offerSdp: sdp('RTP/AVP') });
    expect(p).toMatchObject({ level: 'none', label: 'Not encrypted', e2ee: false });
  });

  it('SDES and DTLS-SRTP offers are encrypted, but not end to end', () => {
    expect(offerPrivacy({ announcedE2ee: false, canE2ee: true, offerSdp: sdp('RTP/SAVP', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n') })).toMatchObject({ level: 'to-server', e2ee: false });
    expect(offerPrivacy({ announcedE2ee: false, canE2ee: true, offerSdp: sdp('UDP/TLS/RTP/SAVPF', 'a=fingerprint:sha-256 AA\r\n') })).toMatchObject({ level: 'in-transit', e2ee: false });
  });

  it('the E2EE announcement counts only when this page can encrypt too', () => {
    expect(offerPrivacy({ announcedE2ee: true, canE2ee: true, offerSdp: undefined })).toMatchObject({ level: 'e2ee', e2ee: true });
    expect(offerPrivacy({ announcedE2ee: true, canE2ee: false, offerSdp: undefined })).toMatchObject({ level: 'unknown', e2ee: false });
    // A plain offer next to a (forged or stale) announcement: this page cannot encrypt, so the SDP decides.
    expect(offerPrivacy({ announcedE2ee: true, canE2ee: false, offerSdp: sdp('RTP/AVP') })).toMatchObject({ level: 'none', e2ee: false });
  });

  it('no offer and no announcement is not known, and not end to end', () => {
    expect(offerPrivacy({ announcedE2ee: false, canE2ee: true, offerSdp: '' })).toMatchObject({ level: 'unknown', e2ee: false });
  });

  it('refuses with 488 and a 399 Warning (RFC 3261 §21.4.26, §20.43)', () => {
    expect(E2EE_REQUIRED_STATUS).toBe(488);
    expect(E2EE_REQUIRED_WARNING).toMatch(/^399 \S+ "End-to-end encryption required"$/);
  });

  it('an automatic refusal is remembered as declined, with the reason', () => {
    const e = historyEntry({ direction: 'incoming', label: 'sipp', uri: 'sip:sipp@localhost', video: false, createdAt: 1, connectedAt: undefined, endedAt: 1, endReason: 'e2ee-required' }, 'id');
    expect(e).toMatchObject({ outcome: 'declined', why: 'e2ee-required' });
    expect(historyEntry({ direction: 'incoming', label: 'a', uri: '', video: false, createdAt: 1, connectedAt: undefined, endedAt: 1, endReason: 'declined' }, 'id2').why).toBeUndefined();
  });
});
