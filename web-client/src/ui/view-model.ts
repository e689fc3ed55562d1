/**
 * Which screen the page shows and which call it is about: pure, from the phone's state, so the
 * rules are tested without a browser.
 *
 * - Not signed in: the sign-in screen.
 * - A call ringing in (and no other live call; a second one got 486): the incoming-call screen.
 * - Otherwise the newest live call that we have not put on hold, else the newest live call,
 *   is "current" and fills the call screen; the other live calls are listed on it (held calls,
 *   a consultation call during an attended transfer).
 * - No live call: home (dialer, history, contacts).
 */
export type View = 'sign-in' | 'home' | 'incoming' | 'call';

export interface CallLike {
  readonly state: string;
  readonly held: boolean;
  readonly live: boolean;
}

export interface Screen<C extends CallLike> {
  view: View;
  current: C | undefined;
  others: C[];
}

/** `calls` oldest first. */
export function screenFor<C extends CallLike>(signedIn: boolean, calls: readonly C[]): Screen<C> {
  if (!signedIn) return { view: 'sign-in', current: undefined, others: [] };
  const live = calls.filter((c) => c.live).reverse();
  if (live.length === 0) return { view: 'home', current: undefined, others: [] };
  const incoming = live.find((c) => c.state === 'incoming');
  if (incoming && live.length === 1) return { view: 'incoming', current: incoming, others: [] };
  const current = live.find((c) => !c.held && c.state !== 'incoming') ?? live.find((c) => c.state !== 'incoming') ?? live[0]!;
  return { view: 'call', current, others: live.filter((c) => c !== current) };
}
