/**
 * Who may enter a room: a pure decision over the room's settings and the joiner's facts, so every
 * refusal is unit-tested without sockets or media (test/unit/sfu/admission.test.ts).
 *
 * The order of the checks matters for what a refused client learns: authentication first (an
 * anonymous client learns nothing about the room, not even whether it exists, beyond
 * NOT_AUTHENTICATED), then the password (a client without it does not learn whether the room is
 * full or requires E2EE), then the owner's removal, then capacity and encryption.
 */
import type { SfuErrorCode } from './errors.ts';

export interface RoomPolicy {
  /** Whether the room has a password at all (its hash lives in the Room). */
  readonly hasPassword: boolean;
  /** Clients that cannot encrypt their media are refused (E2EE on by default). */
  readonly e2eeRequired: boolean;
  readonly maxParticipants: number;
}

export interface JoinFacts {
  /** A session token that verified, naming this user. */
  readonly authenticated: boolean;
  /** The password given matches (ignored when the room has none). */
  readonly passwordOk: boolean;
  /** The owner removed this user earlier. The owner can never be removed. */
  readonly removed: boolean;
  readonly isOwner: boolean;
  /** Participants in the room now. */
  readonly participants: number;
  /** The client announced an E2EE identity key (it can encrypt its frames). */
  readonly canEncrypt: boolean;
}

export type Admission = { readonly ok: true } | { readonly ok: false; readonly code: SfuErrorCode; readonly message: string };

export function admit(policy: RoomPolicy, facts: JoinFacts): Admission {
  if (!facts.authenticated) return refuse('NOT_AUTHENTICATED', 'sign in first: the session is missing, invalid or expired');
  // The owner created the room and needs no password to enter it.
  if (policy.hasPassword && !facts.passwordOk && !facts.isOwner) return refuse('WRONG_PASSWORD', 'wrong or missing room password');
  if (facts.removed && !facts.isOwner) return refuse('REMOVED', 'the owner removed you from this room');
  if (facts.participants >= policy.maxParticipants) return refuse('ROOM_FULL', `the room is full (${policy.maxParticipants} participants)`);
  if (policy.e2eeRequired && !facts.canEncrypt) {
    return refuse('E2EE_REQUIRED', 'this room requires end-to-end encryption, which this client cannot do (no encoded-transform support)');
  }
  return { ok: true };
}

function refuse(code: SfuErrorCode, message: string): Admission {
  return { ok: false, code, message };
}
