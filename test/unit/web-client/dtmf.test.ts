/** DTMF: RFC 4733 tones, INFO application/dtmf-relay bodies (RFC 6086 framework). */
import { describe, expect, it } from 'vitest';
import { chooseDtmfMethod, dtmfRelayBody, isDtmfTone, parseDtmfInfo } from '../../../web-client/src/sip/dtmf.ts';

describe('DTMF', () => {
  it('knows the sixteen RFC 4733 §3.2 tones', () => {
    for (const t of '0123456789*#ABCDabcd') expect(isDtmfTone(t)).toBe(true);
    for (const t of ['', 'E', '12', ' ', '+']) expect(isDtmfTone(t)).toBe(false);
  });

  it('uses RFC 4733 when negotiated, INFO when not or when asked to', () => {
    expect(chooseDtmfMethod('auto', true)).toBe('rfc4733');
    expect(chooseDtmfMethod('auto', false)).toBe('info');
    expect(chooseDtmfMethod('info', true)).toBe('info');
  });

  it('writes and reads application/dtmf-relay bodies', () => {
    expect(dtmfRelayBody('5')).toBe('Signal=5\r\nDuration=200\r\n');
    expect(dtmfRelayBody('#', 160)).toBe('Signal=#\r\nDuration=160\r\n');
    expect(parseDtmfInfo('application/dtmf-relay', dtmfRelayBody('*'))).toBe('*');
    expect(parseDtmfInfo('Application/DTMF-Relay; charset=x', 'signal = a\nduration=100')).toBe('A');
    expect(parseDtmfInfo('application/dtmf', '7\r\n')).toBe('7');
    expect(() => dtmfRelayBody('x')).toThrow(RangeError);
  });

  it.each([
    ['application/dtmf-relay', 'Signal=55\r\n'],
    ['application/dtmf-relay', 'Duration=100\r\n'],
    ['text/plain', 'Signal=5'],
    ['application/dtmf', 'E'],
  ])('ignores %s %j', (type, body) => {
    expect(parseDtmfInfo(type, body)).toBeUndefined();
  });
});
