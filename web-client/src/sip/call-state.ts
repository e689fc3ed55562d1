/**
 * The life of one call as the page shows it, with its legal transitions (the INVITE dialog
 * states of RFC 3261 §12/§13, seen from a user's side):
 *
 *   outgoing:  calling ──180──▶ ringing ──2xx──▶ connected ──BYE──▶ ended
 *   incoming:  incoming ──answer──▶ connecting ──ACK/2xx sent──▶ connected
 *   any state ──final non-2xx, CANCEL, BYE, failure──▶ ended
 *
 * `transition()` refuses anything else, so a late 180 after the 200 (possible through a forking
 * proxy, RFC 3261 §13.2.2.4) cannot drag a connected call back to "ringing".
 */
export type CallState = 'incoming' | 'calling' | 'ringing' | 'connecting' | 'connected' | 'ended';
export type CallEvent = 'progress' | 'answer' | 'accepted' | 'end';

const NEXT: Record<CallState, Partial<Record<CallEvent, CallState>>> = {
  incoming: { answer: 'connecting', end: 'ended' },
  calling: { progress: 'ringing', accepted: 'connected', end: 'ended' },
  ringing: { progress: 'ringing', accepted: 'connected', end: 'ended' },
  connecting: { accepted: 'connected', end: 'ended' },
  connected: { end: 'ended' },
  ended: {},
};

/** The state after `event`, or undefined when the event has no meaning in `state`. */
export function transition(state: CallState, event: CallEvent): CallState | undefined {
  return NEXT[state][event];
}

/** Whether a call in this state occupies the user (for 486 Busy Here on a second call). */
export function isLive(state: CallState): boolean {
  return state !== 'ended';
}

export type EndReason =
  | 'hung-up'
  | 'remote-hung-up'
  | 'cancelled'
  | 'declined'
  | 'busy'
  | 'no-answer'
  | 'not-found'
  | 'unavailable'
  | 'transferred'
  | 'replaced'
  /** Declined automatically: the setting requires end-to-end encryption and the offer had none. */
  | 'e2ee-required'
  /** The address was a group-call room: the server redirected us (302) to its page, which opens. */
  | 'group-call'
  | 'failed';

/** The reason a final response to our INVITE gives (RFC 3261 §21). */
export function endReasonForStatus(status: number): EndReason {
  if (status === 486 || status === 600) return 'busy';
  if (status === 603) return 'declined';
  if (status === 404 || status === 604 || status === 484) return 'not-found';
  if (status === 408 || status === 480) return 'unavailable';
  if (status === 487) return 'cancelled';
  return 'failed';
}

export const END_REASON_TEXT: Record<EndReason, string> = {
  'hung-up': 'Call ended',
  'remote-hung-up': 'The other side hung up',
  cancelled: 'Call cancelled',
  declined: 'Call declined',
  busy: 'Busy',
  'no-answer': 'No answer',
  'not-found': 'No such user',
  unavailable: 'Not available',
  transferred: 'Call transferred',
  replaced: 'Call replaced',
  'e2ee-required': 'Declined automatically, not end-to-end encrypted',
  'group-call': 'Opening the group call',
  failed: 'Call failed',
};
