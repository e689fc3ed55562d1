import { describe, expect, it } from 'vitest';
import { admit, type JoinFacts, type RoomPolicy } from '../../../sfu/src/admission.ts';

const POLICY: RoomPolicy = { hasPassword: true, e2eeRequired: true, maxParticipants: 4 };
const OK: JoinFacts = { authenticated: true, passwordOk: true, removed: false, isOwner: false, participants: 1, canEncrypt: true };

describe('admission: who may enter a room', () => {
  it('admits a signed-in user with the password, room space and E2EE', () => {
    expect(admit(POLICY, OK)).toEqual({ ok: true });
  });

  it.each<[string, Partial<JoinFacts>, Partial<RoomPolicy>, string]>([
    ['no session', { authenticated: false }, {}, 'NOT_AUTHENTICATED'],
    ['wrong password', { passwordOk: false }, {}, 'WRONG_PASSWORD'],
    ['removed by the owner', { removed: true }, {}, 'REMOVED'],
    ['room full', { participants: 4 }, {}, 'ROOM_FULL'],
    ['cannot encrypt in an E2EE-required room', { canEncrypt: false }, {}, 'E2EE_REQUIRED'],
    // The order of checks hides the room's facts from those not admitted.
    ['no session and everything else wrong', { authenticated: false, passwordOk: false, participants: 9, canEncrypt: false }, {}, 'NOT_AUTHENTICATED'],
    ['wrong password in a full E2EE room', { passwordOk: false, participants: 9, canEncrypt: false }, {}, 'WRONG_PASSWORD'],
  ])('refuses: %s', (_name, facts, policy, code) => {
    const r = admit({ ...POLICY, ...policy }, { ...OK, ...facts });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.message.length).toBeGreaterThan(10);
    }
  });

  it('a room without password or E2EE requirement admits a client that cannot encrypt', () => {
    expect(admit({ hasPassword: false, e2eeRequired: false, maxParticipants: 4 }, { ...OK, passwordOk: false, canEncrypt: false })).toEqual({ ok: true });
  });

  it('the owner needs no password and cannot be locked out by a removal', () => {
    expect(admit(POLICY, { ...OK, isOwner: true, passwordOk: false, removed: true })).toEqual({ ok: true });
  });

  it('the owner still counts against the limit', () => {
    expect(admit(POLICY, { ...OK, isOwner: true, participants: 4 })).toMatchObject({ ok: false, code: 'ROOM_FULL' });
  });
});
