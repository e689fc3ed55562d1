/**
 * Pairwise sealed key messages: one participant's SFrame sender key (or an acknowledgement)
 * for one other participant, relayed by the server, which cannot read or alter it.
 *
 *   blob = base64url( nonce (24 bytes) ‖ crypto_box_easy(message, nonce, recipient_pk, sender_sk) )
 *
 * crypto_box is X25519 + XSalsa20-Poly1305 (libsodium): only the recipient can open it, and
 * opening succeeds only with the sender's public key, so it also proves who sealed it (among
 * the two). crypto_box has no associated data, so what would be the AAD is inside the sealed
 * message and checked on opening: the protocol version, the room, the sender and the recipient
 * (participant ids as the server announced them) and a per-pair sequence number. A message for
 * another room, another recipient, or claiming another sender is refused; so is a message the
 * server replays (the caller keeps the last `seq` per sender and refuses anything not newer).
 *
 * The server could still swap identity keys when it announces participants (a man in the
 * middle); the per-pair safety number (safety-number.ts) is how people detect that.
 */
import sodium from 'libsodium-wrappers';
import { concatBytes, type Bytes } from '../bytes.ts';
import { BASE_KEY_BYTES } from './sender-keys.ts';
import { fromBase64Url, toBase64Url } from './identity.ts';

export const SEALED_VERSION = 1;
const NONCE_BYTES = 24;
/** A key message is ~200 bytes of JSON; anything much larger is not ours. */
const MAX_MESSAGE_BYTES = 1024;

export type KeyMessageBody =
  /** The sender's current SFrame base key, KID = generation ‖ step. */
  | { readonly type: 'key'; readonly generation: number; readonly step: number; readonly key: string }
  /** The recipient has installed that key (the sender may start using a new generation). */
  | { readonly type: 'ack'; readonly generation: number; readonly step: number };

export interface SealContext {
  readonly room: string;
  readonly from: string;
  readonly to: string;
}

export class SealedMessageError extends Error {
  override name = 'SealedMessageError';
}

interface Envelope {
  v: number;
  room: string;
  from: string;
  to: string;
  seq: number;
  body: KeyMessageBody;
}

export async function sealKeyMessage(
  ctx: SealContext,
  seq: number,
  body: KeyMessageBody,
  senderSecretKey: Uint8Array,
  recipientPublicKey: Uint8Array,
): Promise<string> {
  await sodium.ready;
  const envelope: Envelope = { v: SEALED_VERSION, room: ctx.room, from: ctx.from, to: ctx.to, seq, body };
  const message = new TextEncoder().encode(JSON.stringify(envelope));
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const box = sodium.crypto_box_easy(message, nonce, recipientPublicKey, senderSecretKey);
  return toBase64Url(concatBytes(nonce, box));
}

/**
 * Opens a blob relayed to us, checking it was sealed by `senderPublicKey` for us, in this room,
 * by the participant the server says sent it. Throws SealedMessageError with the reason.
 */
export async function openKeyMessage(
  ctx: SealContext,
  blob: string,
  senderPublicKey: Uint8Array,
  recipientSecretKey: Uint8Array,
): Promise<{ seq: number; body: KeyMessageBody }> {
  await sodium.ready;
  const raw = fromBase64Url(blob);
  if (!raw || raw.length < NONCE_BYTES + sodium.crypto_box_MACBYTES + 2 || raw.length > MAX_MESSAGE_BYTES + NONCE_BYTES + 16) {
    throw new SealedMessageError('not a sealed key message');
  }
  let message: Uint8Array;
  try {
    message = sodium.crypto_box_open_easy(raw.subarray(NONCE_BYTES), raw.subarray(0, NONCE_BYTES), senderPublicKey, recipientSecretKey);
  } catch {
    throw new SealedMessageError('does not open with the sender\'s identity key (forged, corrupted or not for us)');
  }
  let envelope: Partial<Envelope>;
  try {
    envelope = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(message)) as Partial<Envelope>;
  } catch {
    throw new SealedMessageError('sealed content is not JSON');
  }
  if (envelope.v !== SEALED_VERSION) throw new SealedMessageError(`unknown version ${String(envelope.v)}`);
  if (envelope.room !== ctx.room) throw new SealedMessageError('sealed for another room');
  if (envelope.from !== ctx.from) throw new SealedMessageError('sealed by someone else than the relayed sender');
  if (envelope.to !== ctx.to) throw new SealedMessageError('sealed for another participant');
  if (!Number.isSafeInteger(envelope.seq) || envelope.seq! < 0) throw new SealedMessageError('bad sequence number');
  return { seq: envelope.seq!, body: checkBody(envelope.body) };
}

function checkBody(body: unknown): KeyMessageBody {
  const b = (body ?? {}) as Record<string, unknown>;
  const generation = b.generation;
  const step = b.step;
  if (!Number.isSafeInteger(generation) || (generation as number) < 0 || (generation as number) >= 2 ** 48) throw new SealedMessageError('bad generation');
  if (!Number.isInteger(step) || (step as number) < 0 || (step as number) > 255) throw new SealedMessageError('bad ratchet step');
  if (b.type === 'ack') return { type: 'ack', generation: generation as number, step: step as number };
  if (b.type === 'key') {
    if (typeof b.key !== 'string' || !fromBase64Url(b.key, BASE_KEY_BYTES)) throw new SealedMessageError('bad key');
    return { type: 'key', generation: generation as number, step: step as number, key: b.key };
  }
  throw new SealedMessageError('unknown message type');
}

/** The key bytes of a `key` message (validated when it was opened). */
export function keyBytes(body: Extract<KeyMessageBody, { type: 'key' }>): Bytes {
  return fromBase64Url(body.key, BASE_KEY_BYTES)!;
}
