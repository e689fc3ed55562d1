/**
 * A participant's identity key pair for one group call: X25519 (libsodium crypto_box), drawn
 * fresh when the page joins, announced to the room through the signalling (join `e2ee`), and used
 * to seal the pairwise key messages (sealed.ts). It lives only in the page's memory: a new call,
 * or a reload, means a new identity and new safety numbers to compare.
 */
import sodium from 'libsodium-wrappers';
import type { Bytes } from '../bytes.ts';

export const IDENTITY_KEY_BYTES = 32;

export interface GroupIdentity {
  readonly publicKey: Bytes;
  readonly secretKey: Bytes;
  /** The public key in base64url without padding, as the signalling carries it (43 characters). */
  readonly publicKeyText: string;
}

export async function createGroupIdentity(): Promise<GroupIdentity> {
  await sodium.ready;
  const kp = sodium.crypto_box_keypair();
  return { publicKey: new Uint8Array(kp.publicKey), secretKey: new Uint8Array(kp.privateKey), publicKeyText: toBase64Url(kp.publicKey) };
}

export function toBase64Url(bytes: Uint8Array): string {
  return sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
}

/** Strict base64url (canonical, no padding) of an exact length, or null. */
export function fromBase64Url(text: string, length?: number): Bytes | null {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  let bytes: Uint8Array;
  try {
    bytes = sodium.from_base64(text, sodium.base64_variants.URLSAFE_NO_PADDING);
  } catch {
    return null;
  }
  if (length !== undefined && bytes.length !== length) return null;
  if (sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING) !== text) return null;
  return new Uint8Array(bytes);
}
