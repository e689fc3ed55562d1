/**
 * The safety number of a pair of participants: 10 emoji (two groups of 5 from sas.ts, 60 bits)
 * that both see for each other when neither the server nor anyone else has swapped their identity
 * keys. Two people read them to each other (or compare them side by side) and mark each other
 * verified in the participant list.
 *
 *   digest = BLAKE2b-256("sotto group safety number v1" ‖ len‖room ‖ len‖pk_low ‖ len‖pk_high)
 *   emoji  = sas(digest[0..4]) ‖ sas(digest[4..8])
 *
 * The two public keys are ordered bytewise so both sides compute the same value; the room is
 * included so the same pair of (fresh, per-call) keys never shows the same number elsewhere.
 *
 * Why 60 bits and not the 30 of the 1:1 call's SAS: the 1:1 key agreement commits to its key
 * before seeing the other's (key-agreement.ts), so an attacker gets one try. Here identity keys
 * are announced by the server as people join, with no commitment round, so a server in the
 * middle knows both real keys before it must hand out its substitutes and can search for a pair
 * whose numbers match on both sides: 2^30 tries is minutes of work, 2^60 is out of reach while a
 * join is waiting.
 */
import sodium from 'libsodium-wrappers';
import { concatBytes, encodeBigEndian, utf8 } from '../bytes.ts';
import { SAS_BYTES, sasFromBytes, type SasSymbol } from '../sas.ts';

const LABEL = utf8('sotto group safety number v1');

function field(bytes: Uint8Array): Uint8Array {
  return concatBytes(encodeBigEndian(BigInt(bytes.length), 2), bytes);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The 10 symbols; both participants of the pair get the same list. */
export async function safetyNumber(room: string, publicKeyA: Uint8Array, publicKeyB: Uint8Array): Promise<SasSymbol[]> {
  await sodium.ready;
  const [low, high] = compare(publicKeyA, publicKeyB) <= 0 ? [publicKeyA, publicKeyB] : [publicKeyB, publicKeyA];
  const digest = sodium.crypto_generichash(32, concatBytes(LABEL, field(utf8(room)), field(low), field(high)), null);
  return [...sasFromBytes(digest.subarray(0, SAS_BYTES)), ...sasFromBytes(digest.subarray(SAS_BYTES, 2 * SAS_BYTES))];
}
