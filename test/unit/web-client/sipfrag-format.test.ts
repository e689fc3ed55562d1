/** message/sipfrag status lines (RFC 3515 §2.4.5) and the page's time formats. */
import { describe, expect, it } from 'vitest';
import { sipfragStatus } from '../../../web-client/src/sip/sipfrag.ts';
import { formatDuration, formatWhen } from '../../../web-client/src/ui/format.ts';

describe('sipfragStatus', () => {
  it.each([
    ['SIP/2.0 100 Trying', 100],
    ['SIP/2.0 200 OK\r\n', 200],
    ['\r\nSIP/2.0 603 Declined\r\nContent-Length: 0\r\n', 603],
    ['INVITE sip:x SIP/2.0', undefined],
    ['', undefined],
  ])('%j → %s', (body, status) => {
    expect(sipfragStatus(body)).toBe(status);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0:00'],
    [999, '0:00'],
    [7_000, '0:07'],
    [754_000, '12:34'],
    [3_723_000, '1:02:03'],
    [-5, '0:00'],
  ])('%i ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatWhen', () => {
  const now = new Date(2026, 10, 22, 15, 0).getTime();
  it('gives the time today, "Yesterday" the day before, a date otherwise', () => {
    expect(formatWhen(new Date(2026, 10, 22, 9, 5).getTime(), now, 'en-GB')).toBe('09:05');
    expect(formatWhen(new Date(2026, 10, 21, 23, 59).getTime(), now, 'en-GB')).toBe('Yesterday 23:59');
    expect(formatWhen(new Date(2026, 9, 1, 8, 0).getTime(), now, 'en-GB')).toMatch(/^1 Oct 2026 08:00$/);
  });
});
