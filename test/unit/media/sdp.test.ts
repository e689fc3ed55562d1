/**
 * The SDP grammar (RFC 8866), the facts the bridge reads from a description, and SDES keys
 * (RFC 4568), on descriptions written by real endpoints: Chromium 156's offer (audio + video,
 * BUNDLE, ICE, DTLS), baresip 1.0.0's offer with ;mediaenc=srtp (RTP/AVP with a=crypto,
 * RFC 8643), and sipp 3.6.1's scenario offer (bare PCMU).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe as group, expect, it } from 'vitest';
import { parseSdp, SdpError, serializeSdp } from '../../../server/src/media/sdp.ts';
import { describe, effectiveDirection, receives, sends } from '../../../server/src/media/sdp-facts.ts';
import { chooseCrypto, cryptoProblem, parseCrypto } from '../../../server/src/media/sdes.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const CHROMIUM = fixture('chromium-offer.sdp');
const BARESIP = fixture('baresip-osrtp-offer.sdp');
const SIPP = fixture('sipp-offer.sdp');

group('SDP grammar (RFC 8866 §5)', () => {
  it('parses and serializes a description back to the same lines, with CRLF', () => {
    for (const text of [CHROMIUM, BARESIP, SIPP]) {
      const d = parseSdp(text);
      const out = serializeSdp(d);
      expect(out.endsWith('\r\n')).toBe(true);
      expect(out.split('\r\n').filter(Boolean)).toEqual(text.split(/\r?\n/).filter(Boolean));
    }
  });

  it('keeps session- and media-level attributes apart', () => {
    const d = parseSdp(CHROMIUM);
    expect(d.attributes.map((a) => a.name)).toEqual(['group', 'extmap-allow-mixed', 'msid-semantic']);
    expect(d.media).toHaveLength(2);
    expect(d.media[0]!.formats).toEqual(['111', '63', '9', '0', '8', '13', '110', '126']);
    expect(d.media[1]!.connection?.address).toBe('0.0.0.0');
  });

  it.each([
    ['', /empty session description/],
    ['o=- 1 1 IN IP4 1.2.3.4\r\n', /starts with v=0/],
    ['v=0\r\ns=-\r\n', /no o= line/],
    ['v=0\r\no=- 1 1 IN IP4\r\n', /line 2: malformed o= line/],
    ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n', /line 3: malformed m= line/],
    ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n', /port out of range/],
    ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4\r\n', /line 3: malformed c= line/],
    ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ngarbage\r\n', /line 3: not a <type>=<value> line/],
    ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n', /second v= line/],
    ['v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n' + 'a=x\r\n'.repeat(600), /too many attributes/],
  ])('refuses %j with a reason (%s)', (text, reason) => {
    expect(() => parseSdp(text)).toThrow(SdpError);
    expect(() => parseSdp(text)).toThrow(reason);
  });
});

group('description facts', () => {
  it('Chromium: WebRTC (UDP/TLS/RTP/SAVPF, ICE, DTLS), SSRCs, MIDs, codecs with fmtp and rtcp-fb', () => {
    const f = describe(parseSdp(CHROMIUM));
    expect(f.profile).toBe('webrtc');
    const [audio, video] = f.media;
    expect(audio).toMatchObject({ kind: 'audio', profile: 'webrtc', mid: '0', iceUfrag: '2B59', setup: 'actpass', rtcpMux: true, direction: 'sendrecv', ssrc: 3507452459, cname: 'RvGc8Z5paVaiip48' });
    expect(audio!.fingerprints[0]).toMatchObject({ algorithm: 'sha-256' });
    expect(audio!.codecs.map((c) => `${c.pt} ${c.name}/${c.clockRate}`)).toEqual([
      '111 opus/48000', '63 red/48000', '9 G722/8000', '0 PCMU/8000', '8 PCMA/8000', '13 CN/8000', '110 telephone-event/48000', '126 telephone-event/8000',
    ]);
    expect(audio!.codecs[0]).toMatchObject({ channels: 2, fmtp: 'minptime=10;useinbandfec=1', rtcpFb: [{ type: 'transport-cc' }] });
    // The FID group names the media SSRC first (RFC 5576 §4.3); the RTX SSRC is not the sender's.
    expect(video).toMatchObject({ kind: 'video', mid: '1', ssrc: 3860578697 });
    const h264 = video!.codecs.find((c) => c.pt === 108)!;
    expect(h264.fmtp).toBe('level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f');
    expect(h264.rtcpFb).toContainEqual({ type: 'nack', parameter: 'pli' });
  });

  it('baresip with ;mediaenc=srtp: RTP/AVP with a=crypto is opportunistic SDES-SRTP (RFC 8643)', () => {
    const f = describe(parseSdp(BARESIP));
    expect(f.profile).toBe('sdes');
    const a = f.media[0]!;
    expect(a).toMatchObject({ profile: 'sdes', opportunistic: true, address: '127.0.0.1', port: 39120, ssrc: 1396044916, ptime: 20, rtcpMux: false });
    expect(a.crypto).toHaveLength(1);
    expect(chooseCrypto(a.crypto)).toMatchObject({ tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80' });
  });

  it('sipp: plain RTP, a static payload type, no SSRC', () => {
    const f = describe(parseSdp(SIPP));
    expect(f.profile).toBe('plain');
    expect(f.media[0]).toMatchObject({ profile: 'plain', port: 6000, ssrc: undefined, codecs: [{ pt: 0, name: 'PCMU', clockRate: 8000 }] });
  });

  it('static payload types without rtpmap get their RFC 3551 names; unknown dynamic ones are skipped', () => {
    const f = describe(parseSdp('v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 18 97\r\n'));
    expect(f.media[0]!.codecs.map((c) => c.name)).toEqual(['PCMA', 'PCMU', 'G729']);
  });

  it('classifies transports: RTP/SAVP needs keys, DTLS needs ICE, UDPTL is other', () => {
    const sdp = (m: string, extra = '') => describe(parseSdp(`v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n${m}\r\n${extra}`)).media[0]!.profile;
    expect(sdp('m=audio 4000 RTP/SAVP 0', 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c79g0BfWb9aJQDJ6V/pNVn5Mjvllq0JLcAlLSEjA\r\n')).toBe('sdes');
    expect(sdp('m=audio 4000 RTP/SAVP 0')).toBe('other');
    expect(sdp('m=audio 4000 UDP/TLS/RTP/SAVP 0', 'a=fingerprint:sha-256 AB:CD\r\n')).toBe('other');
    expect(sdp('m=image 4000 udptl t38')).toBe('other');
    expect(sdp('m=audio 4000 RTP/AVPF 0')).toBe('plain');
  });

  it('directions (RFC 3264 §5.1, §8.4): session default, media override, c=0.0.0.0 hold', () => {
    const f = describe(
      parseSdp('v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=inactive\r\nm=audio 4004 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\n'),
    );
    expect(f.media.map((m) => m.direction)).toEqual(['sendonly', 'inactive', 'sendrecv']);
    expect(f.media.map((m) => [sends(m), receives(m)])).toEqual([[true, false], [false, false], [true, false]]);
    expect(f.media.map(effectiveDirection)).toEqual(['sendonly', 'inactive', 'sendonly']);
  });

  it('with ICE, c=0.0.0.0 is a placeholder, not hold: Chromium\'s bundled video line (port 9) takes media', () => {
    const video = describe(parseSdp(CHROMIUM)).media[1]!;
    expect(video).toMatchObject({ address: '0.0.0.0', port: 9, direction: 'sendrecv' });
    expect(receives(video)).toBe(true);
    expect(effectiveDirection(video)).toBe('sendrecv');
  });
});

group('SDES a=crypto (RFC 4568)', () => {
  it('parses lifetime and MKI, and says why a line cannot be used', () => {
    const life = parseCrypto('1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20')!;
    expect(life).toMatchObject({ tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz' });
    expect(cryptoProblem(life)).toBeUndefined();
    expect(cryptoProblem(parseCrypto('1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4')!)).toBe('MKI');
    expect(cryptoProblem(parseCrypto('2 F8_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz')!)).toMatch(/not supported/);
    expect(cryptoProblem(parseCrypto('3 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz UNENCRYPTED_SRTCP')!)).toMatch(/session parameters/);
    expect(cryptoProblem(parseCrypto('4 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz WSH=128')!)).toBeUndefined();
    expect(cryptoProblem(parseCrypto('5 AEAD_AES_256_GCM inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz')!)).toBe('wrong key length');
    expect(parseCrypto('x AES_CM_128_HMAC_SHA1_80 inline:abc')).toBeUndefined();
    expect(parseCrypto('1 AES_CM_128_HMAC_SHA1_80 secret:abc')).toBeUndefined();
  });

  it('the answerer takes the first usable line (RFC 4568 §7.1.1)', () => {
    const lines = [
      '1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 FEC_ORDER=FEC_SRTP',
      '2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20',
    ].map((l) => parseCrypto(l)!);
    expect(chooseCrypto(lines)).toMatchObject({ tag: 2, suite: 'AES_CM_128_HMAC_SHA1_32' });
    expect(chooseCrypto(lines.slice(0, 1))).toBeUndefined();
  });
});
