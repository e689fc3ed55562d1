/** Which screen shows which call (web-client/src/ui/view-model.ts). */
import { describe, expect, it } from 'vitest';
import { screenFor, type CallLike } from '../../../web-client/src/ui/view-model.ts';

const call = (name: string, state: string, held = false): CallLike & { name: string } => ({ name, state, held, live: state !== 'ended' });

describe('screenFor', () => {
  it('shows sign-in when signed out, whatever the calls', () => {
    expect(screenFor(false, [call('a', 'connected')]).view).toBe('sign-in');
  });

  it('shows home with no live call', () => {
    expect(screenFor(true, []).view).toBe('home');
    expect(screenFor(true, [call('a', 'ended')]).view).toBe('home');
  });

  it('shows the incoming screen for a lone ringing call', () => {
    const s = screenFor(true, [call('a', 'ended'), call('b', 'incoming')]);
    expect(s.view).toBe('incoming');
    expect(s.current?.name).toBe('b');
  });

  it('prefers the newest call not on hold, and lists the others', () => {
    // Attended transfer: bob held, then a consultation call to carol.
    const bob = call('bob', 'connected', true);
    const carol = call('carol', 'ringing');
    const s = screenFor(true, [bob, carol]);
    expect(s).toMatchObject({ view: 'call', current: carol, others: [bob] });
  });

  it('keeps showing a held call when it is the only one', () => {
    const bob = call('bob', 'connected', true);
    expect(screenFor(true, [bob])).toMatchObject({ view: 'call', current: bob, others: [] });
  });

  it('shows the outgoing call, not the referred-away one, during a transfer', () => {
    const s = screenFor(true, [call('alice', 'connected'), call('carol', 'calling')]);
    expect(s.current?.name).toBe('carol');
  });
});
