/** Spotting the callee's E2EE announcement in a raw 2xx to INVITE (web-client/src/sip/e2ee-announcement.ts). */
import { describe, expect, it } from 'vitest';
import { e2eeAnsweredCallId } from '../../../web-client/src/sip/e2ee-announcement.ts';
import { countersFromTracks } from '../../../web-client/src/media/e2ee-counters.ts';

const ok = (...fields: string[]) => ['SIP/2.0 200 OK', 'Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1', ...fields, 'Content-Length: 0', '', ''].join('\r\n');

describe('e2eeAnsweredCallId', () => {
  it('names the Call-ID of a 2xx to INVITE with the header, in any case and compact form', () => {
    expect(e2eeAnsweredCallId(ok('Call-ID: abc@x', 'CSeq: 2 INVITE', 'Sotto-E2EE: sframe-x25519; v=1'), 'Sotto-E2EE')).toBe('abc@x');
    expect(e2eeAnsweredCallId(ok('i: abc', 'CSeq: 2 INVITE', 'sotto-e2ee: 1'), 'Sotto-E2EE')).toBe('abc');
  });

  it.each([
    ['no header', ok('Call-ID: abc', 'CSeq: 2 INVITE')],
    ['a 2xx to another method', ok('Call-ID: abc', 'CSeq: 3 INFO', 'Sotto-E2EE: 1')],
    ['a provisional response', ok('Call-ID: abc', 'CSeq: 2 INVITE', 'Sotto-E2EE: 1').replace('200 OK', '180 Ringing')],
    ['a request', 'INVITE sip:bob@x SIP/2.0\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\nSotto-E2EE: 1\r\n\r\n'],
    ['the header only in the body', ok('Call-ID: abc', 'CSeq: 2 INVITE').replace(/\r\n\r\n$/, '\r\n\r\nSotto-E2EE: 1')],
  ])('ignores %s', (_what, raw) => {
    expect(e2eeAnsweredCallId(raw, 'Sotto-E2EE')).toBeUndefined();
  });
});

describe('countersFromTracks', () => {
  it('adds up encrypted, decrypted and dropped frames by direction', () => {
    expect(
      countersFromTracks([
        { direction: 'encrypt', ok: 10, dropped: { 'no-key': 3 } },
        { direction: 'encrypt', ok: 5, dropped: {} },
        { direction: 'decrypt', ok: 7, dropped: { 'unknown-key': 2, tampered: 1 } },
      ]),
    ).toEqual({ encryptedFrames: 15, decryptedFrames: 7, decryptFailures: 3 });
  });
});
