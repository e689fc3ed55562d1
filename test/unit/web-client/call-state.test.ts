/** The call's states and legal transitions (RFC 3261 §13 from the user's side). */
import { describe, expect, it } from 'vitest';
import { endReasonForStatus, transition, type CallEvent, type CallState } from '../../../web-client/src/sip/call-state.ts';

describe('transition', () => {
  it.each<[CallState, CallEvent, CallState | undefined]>([
    ['calling', 'progress', 'ringing'],
    ['ringing', 'progress', 'ringing'],
    ['calling', 'accepted', 'connected'],
    ['ringing', 'accepted', 'connected'],
    ['incoming', 'answer', 'connecting'],
    ['connecting', 'accepted', 'connected'],
    ['incoming', 'end', 'ended'],
    ['connected', 'end', 'ended'],
    // A 180 that arrives after the 200 (forking, RFC 3261 §13.2.2.4) changes nothing.
    ['connected', 'progress', undefined],
    ['incoming', 'accepted', undefined],
    ['calling', 'answer', undefined],
    ['ended', 'end', undefined],
    ['ended', 'accepted', undefined],
  ])('%s --%s--> %s', (from, event, to) => {
    expect(transition(from, event)).toBe(to);
  });
});

describe('endReasonForStatus (RFC 3261 §21)', () => {
  it.each([
    [486, 'busy'],
    [600, 'busy'],
    [603, 'declined'],
    [404, 'not-found'],
    [480, 'unavailable'],
    [408, 'unavailable'],
    [487, 'cancelled'],
    [500, 'failed'],
    [503, 'failed'],
  ])('%i → %s', (status, reason) => {
    expect(endReasonForStatus(status)).toBe(reason);
  });
});
