/**
 * Codec choice without transcoding, offer/answer across the bridge (RFC 3264) and the descriptions
 * written for each side, on real offers (Chromium 156, baresip 1.0.0, sipp 3.6.1) and the answers
 * those endpoints would give.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe as group, expect, it } from 'vitest';
import { acceptedCodecs, bridgeableCodecs, routerCodecs } from '../../../server/src/media/codecs.ts';
import { farLegOf, writePhoneDescription, writeWebDescription, type PhoneTransportInfo, type SenderInfo, type WebTransportInfo } from '../../../server/src/media/leg-sdp.ts';
import { CallNegotiation, type Stream } from '../../../server/src/media/negotiation.ts';
import { parseSdp, SdpError } from '../../../server/src/media/sdp.ts';
import { describe, type SdpCodec } from '../../../server/src/media/sdp-facts.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const facts = (sdp: string) => describe(parseSdp(sdp));
const CHROMIUM = facts(fixture('chromium-offer.sdp'));
const BARESIP = facts(fixture('baresip-osrtp-offer.sdp'));
const SIPP = facts(fixture('sipp-offer.sdp'));

const codec = (pt: number, name: string, clockRate: number, fmtp?: string): SdpCodec => ({ pt, name, clockRate, channels: name === 'opus' ? 2 : undefined, fmtp, rtcpFb: [] });
const names = (cs: readonly SdpCodec[]) => cs.map((c) => `${c.pt} ${c.name}/${c.clockRate}`);

const WEB: WebTransportInfo = {
  iceParameters: { usernameFragment: 'ufragX', password: 'pwdpwdpwdpwdpwdpwdpwdpwd' },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076302079, ip: '127.0.0.1', protocol: 'udp', port: 42001, type: 'host' },
    { foundation: 'tcpcandidate', priority: 1076276479, ip: '127.0.0.1', protocol: 'tcp', port: 42002, type: 'host', tcpType: 'passive' },
  ],
  fingerprint: { algorithm: 'sha-256', value: 'AA:BB:CC' },
  setup: 'actpass',
};
const PHONE: PhoneTransportInfo = { ip: '127.0.0.1', port: 42010, rtcpPort: 42011, rtcpMux: false, proto: 'RTP/AVP', crypto: undefined };

group('codec choice (no transcoding)', () => {
  it("keeps Opus, G.722, PCMU and PCMA in the offerer's order, and telephone-event at 8 kHz", () => {
    // telephone-event/48000 (for Opus) is not passed: the browser then sends its tones by INFO.
    expect(names(bridgeableCodecs('audio', CHROMIUM.media[0]!.codecs))).toEqual(['111 opus/48000', '9 G722/8000', '0 PCMU/8000', '8 PCMA/8000', '126 telephone-event/8000']);
    expect(names(bridgeableCodecs('audio', BARESIP.media[0]!.codecs))).toEqual(['0 PCMU/8000', '8 PCMA/8000', '9 G722/8000', '96 opus/48000', '101 telephone-event/8000']);
    // telephone-event/8000 alone, without an 8 kHz codec, cannot be sent (RFC 4733 §2.1: same clock).
    expect(names(bridgeableCodecs('audio', [codec(96, 'opus', 48000), codec(101, 'telephone-event', 8000)]))).toEqual(['96 opus/48000']);
    expect(bridgeableCodecs('audio', [codec(18, 'G729', 8000), codec(101, 'telephone-event', 8000)])).toEqual([]);
  });

  it('video: VP8 and one H.264, the constrained-baseline packetization-mode 1 one', () => {
    expect(names(bridgeableCodecs('video', CHROMIUM.media[1]!.codecs))).toEqual(['96 VP8/90000', '108 H264/90000']);
  });

  it('an answer keeps codecs of the offer, in its own order; renumbered ones are reported', () => {
    const offered = [codec(0, 'PCMU', 8000), codec(8, 'PCMA', 8000), codec(126, 'telephone-event', 8000, '0-15')];
    const r = acceptedCodecs('audio', offered, [codec(101, 'telephone-event', 8000), codec(8, 'PCMA', 8000)]);
    // Media codecs first (mediasoup's stream codec is the first), events last.
    expect(names(r.codecs)).toEqual(['8 PCMA/8000', '126 telephone-event/8000']);
    expect(r.renumbered).toEqual(['telephone-event/8000 126→101']);
    // Only telephone-event left: no media codec, the stream is refused.
    expect(acceptedCodecs('audio', offered, [codec(101, 'telephone-event', 8000)]).codecs).toEqual([]);
    // H.264 needs the same packetization mode (RFC 6184 §8.2.2).
    expect(acceptedCodecs('video', [codec(108, 'H264', 90000, 'packetization-mode=1;profile-level-id=42e01f')], [codec(108, 'H264', 90000, 'profile-level-id=42e01f')]).codecs).toEqual([]);
  });

  it("the Router's codecs never clash with the RTX numbers mediasoup adds for video", () => {
    // mediasoup gives VP8's RTX the first free dynamic number, 100: a later codec numbered 100 must go.
    const r = routerCodecs([
      { kind: 'audio', codecs: [codec(0, 'PCMU', 8000)] },
      { kind: 'video', codecs: [codec(96, 'VP8', 90000), codec(100, 'H264', 90000, 'packetization-mode=1')] },
    ]);
    expect(r.codecs.map((c) => c.mimeType)).toEqual(['audio/PCMU', 'video/VP8']);
    expect(r.dropped.map((d) => d.codec.name)).toEqual(['H264']);
    // The same number on an audio and a video line (legal without BUNDLE): audio wins.
    const r2 = routerCodecs([{ kind: 'video', codecs: [codec(96, 'VP8', 90000)] }, { kind: 'audio', codecs: [codec(96, 'opus', 48000)] }]);
    expect(r2.codecs.map((c) => c.mimeType)).toEqual(['audio/opus']);
    expect(r2.codecs[0]).toMatchObject({ preferredPayloadType: 96, channels: 2 });
  });
});

function senders(n: CallNegotiation): Map<Stream, SenderInfo> {
  return new Map(n.streams.map((s, i) => [s, { ssrc: 1000 + i, cname: 'sotto' }]));
}

group('offer/answer across the bridge (RFC 3264)', () => {
  it('a phone (baresip) calls a browser: the browser is offered WebRTC with the phone\'s codecs and numbers', () => {
    const n = new CallNegotiation({ web: '11', phone: '22' });
    const toWeb = n.offer('phone', BARESIP);
    expect(toWeb.to).toBe('web');
    // telephone-event goes through mediasoup under a media codec's name (codecs.ts TELEPHONE_EVENT_ALIAS).
    expect(n.routerCodecs!.map((c) => `${c.preferredPayloadType} ${c.mimeType}/${c.clockRate}`)).toEqual(['0 audio/PCMU/8000', '8 audio/PCMA/8000', '9 audio/G722/8000', '96 audio/opus/48000', '101 audio/iLBC/8000']);
    const sdp = writeWebDescription(toWeb, WEB, senders(n), 'sdes-srtp');
    const web = facts(sdp);
    expect(web.profile).toBe('webrtc');
    expect(sdp).toMatch(/^a=ice-lite\r$/m);
    expect(sdp).toMatch(/^a=group:BUNDLE 0\r$/m);
    expect(sdp).toMatch(/^a=setup:actpass\r$/m);
    expect(farLegOf(sdp)).toBe('sdes-srtp');
    expect(web.media[0]).toMatchObject({ kind: 'audio', port: 42001, mid: '0', ssrc: 1000, direction: 'sendrecv', rtcpMux: true });
    expect(names(web.media[0]!.codecs)).toEqual(['0 PCMU/8000', '8 PCMA/8000', '9 G722/8000', '96 opus/48000', '101 telephone-event/8000']);
    expect(sdp).toContain('a=candidate:tcpcandidate 1 tcp 1076276479 127.0.0.1 42002 typ host tcptype passive');
    expect(web.origin).toMatchObject({ sessionId: '11', sessionVersion: '1' });

    // Chromium's answer: PCMU and telephone-event, same numbers (JSEP).
    const answer = facts(sdp.replace(/^m=audio (\d+) (\S+) .*$/m, 'm=audio $1 $2 0 101').replace(/^a=setup:actpass/m, 'a=setup:active'));
    const toPhone = n.answer('web', answer);
    expect(toPhone.to).toBe('phone');
    const phoneSdp = writePhoneDescription(toPhone, '127.0.0.1', new Map([[n.streams[0]!, PHONE]]), senders(n));
    const p = facts(phoneSdp);
    expect(p.profile).toBe('plain');
    expect(p.media[0]).toMatchObject({ port: 42010, rtcpPort: 42011, address: '127.0.0.1', direction: 'sendrecv', ptime: 20 });
    expect(names(p.media[0]!.codecs)).toEqual(['0 PCMU/8000', '101 telephone-event/8000']);
    expect(phoneSdp).toContain('a=fmtp:101 0-15');
    expect(p.origin).toMatchObject({ sessionId: '22', sessionVersion: '1' });
    expect(n.flowsTo(n.streams[0]!, 'web')).toBe(true);
    expect(n.flowsTo(n.streams[0]!, 'phone')).toBe(true);
  });

  it('a browser (Chromium) calls a phone: the phone gets RTP/AVP with the browser\'s audio and video codecs; video refused by the phone is refused to the browser', () => {
    const n = new CallNegotiation({ web: '1', phone: '2' });
    const toPhone = n.offer('web', CHROMIUM);
    expect(n.streams.map((s) => [s.kind, s.mid])).toEqual([['audio', '0'], ['video', '1']]);
    const audio = n.stream('audio')!;
    const video = n.stream('video')!;
    const offerSdp = writePhoneDescription(toPhone, '127.0.0.1', new Map([[audio, PHONE], [video, { ...PHONE, port: 42020, rtcpPort: 42021 }]]), senders(n));
    const offer = facts(offerSdp);
    expect(offer.media.map((m) => [m.kind, m.port])).toEqual([['audio', 42010], ['video', 42020]]);
    expect(names(offer.media[0]!.codecs)).toEqual(['111 opus/48000', '9 G722/8000', '0 PCMU/8000', '8 PCMA/8000', '126 telephone-event/8000']);
    expect(offerSdp).not.toContain('rtcp-fb'); // RTP/AVP has no feedback (RFC 4585 is AVPF)

    // baresip answers PCMU + telephone-event/8000 and refuses video.
    const answer = facts(
      'v=0\r\no=- 5 6 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 39120 RTP/AVP 0 126\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\na=ssrc:77 cname:x\r\nm=video 0 RTP/AVP 96\r\n',
    );
    const toWeb = n.answer('phone', answer);
    const sdp = writeWebDescription({ ...toWeb }, { ...WEB, setup: 'passive' }, senders(n), 'rtp');
    const web = facts(sdp);
    expect(web.media.map((m) => [m.kind, m.port, m.mid])).toEqual([['audio', 42001, '0'], ['video', 0, '1']]);
    expect(names(web.media[0]!.codecs)).toEqual(['0 PCMU/8000', '126 telephone-event/8000']);
    expect(sdp).toMatch(/^a=group:BUNDLE 0\r$/m);
    expect(sdp).toMatch(/^a=setup:passive\r$/m);
    expect(farLegOf(sdp)).toBe('rtp');
    expect(n.flowsTo(video, 'web')).toBe(false);
    expect(audio.facts.phone?.ssrc).toBe(77);
  });

  it('hold and resume (RFC 3264 §8.4): the phone\'s sendonly re-offer reaches the browser as sendonly; the version goes up by one', () => {
    const n = new CallNegotiation({ web: '1', phone: '2' });
    n.offer('phone', SIPP);
    n.answer('web', facts(writeWebDescription(n.offer('phone', SIPP), { ...WEB, setup: 'active' }, senders(n), 'rtp')));
    const hold = n.offer('phone', facts(fixture('sipp-offer.sdp').replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000\na=sendonly')));
    expect(hold.lines[0]).toMatchObject({ direction: 'sendonly', active: true });
    expect(hold.origin.version).toBe('3');
    const webAnswer = facts(writeWebDescription(hold, WEB, senders(n), 'rtp').replace('a=sendonly', 'a=recvonly'));
    const toPhone = n.answer('web', webAnswer);
    expect(toPhone.lines[0]).toMatchObject({ direction: 'recvonly' });
    expect(n.flowsTo(n.streams[0]!, 'phone')).toBe(false); // the holder hears nothing
    expect(n.flowsTo(n.streams[0]!, 'web')).toBe(true); // music on hold may flow to the browser
    // RFC 2543 hold: c=0.0.0.0.
    const old = n.offer('phone', facts(fixture('sipp-offer.sdp').replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0')));
    expect(old.lines[0]).toMatchObject({ direction: 'sendonly' });
  });

  it('a failed re-offer leaves the negotiated state (RFC 3261 §14.1)', () => {
    const n = new CallNegotiation({ web: '1', phone: '2' });
    n.offer('phone', SIPP);
    n.answer('web', facts(writeWebDescription(n.offer('phone', SIPP), WEB, senders(n), 'rtp')));
    n.offer('web', facts(writeWebDescription(n.offer('phone', SIPP), WEB, senders(n), 'rtp')));
    n.cancelOffer();
    expect(n.pendingFrom).toBeUndefined();
    expect(() => n.answer('phone', SIPP)).toThrow(/answer without an offer/);
  });

  it.each([
    ['G.729 only', 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n', /no audio codec in common/],
    ['T.38 only', 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=image 4000 udptl t38\r\n', /no audio stream/],
    ['no media', 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nt=0 0\r\n', /no audio stream/],
  ])('refuses a phone offer with %s (488 with a reason)', (_what, sdp, reason) => {
    const n = new CallNegotiation({ web: '1', phone: '2' });
    expect(() => n.offer('phone', facts(sdp))).toThrow(SdpError);
    expect(() => n.offer('phone', facts(sdp))).toThrow(reason);
  });

  it('refuses a WebRTC offer from the phone side and a plain one from the web side', () => {
    expect(() => new CallNegotiation({ web: '1', phone: '2' }).offer('phone', CHROMIUM)).toThrow(/RTP\/AVP or RTP\/SAVP/);
    expect(() => new CallNegotiation({ web: '1', phone: '2' }).offer('web', SIPP)).toThrow(/WebRTC/);
  });

  it('an answer with other m= lines than the offer is refused (RFC 3264 §6)', () => {
    const n = new CallNegotiation({ web: '1', phone: '2' });
    n.offer('web', CHROMIUM);
    expect(() => n.answer('phone', SIPP)).toThrow(/1 m= lines, the offer 2/);
  });

  it('lines added by a later offer are refused with port 0; the others stay', () => {
    const n = new CallNegotiation({ web: '1', phone: '2' });
    n.offer('phone', SIPP);
    n.answer('web', facts(writeWebDescription(n.offer('phone', SIPP), WEB, senders(n), 'rtp')));
    const two = facts(fixture('sipp-offer.sdp') + 'm=video 6002 RTP/AVP 96\na=rtpmap:96 H264/90000\n');
    const toWeb = n.offer('phone', two);
    expect(toWeb.lines).toHaveLength(1); // the browser is not offered the new line
    const back = n.answer('web', facts(writeWebDescription(toWeb, WEB, senders(n), 'rtp')));
    const sdp = writePhoneDescription(back, '127.0.0.1', new Map([[n.streams[0]!, PHONE]]), senders(n));
    expect(facts(sdp).media.map((m) => [m.kind, m.port])).toEqual([['audio', 42010], ['video', 0]]);
  });
});
