/**
 * End-to-end encrypted room chat, with the media keys: each message is encrypted under a chat key
 * derived from its sender's current SFrame base key, so exactly those who can see the sender's
 * media can read the sender's messages (a newcomer cannot read earlier chat, a leaver cannot read
 * later chat), and the server relays an opaque blob.
 *
 *   chat_key = HKDF-SHA256(IKM = base_key, salt = "", info = "sotto group chat v1" ‖ KID (8 bytes BE))
 *   blob     = base64url( 0x01 ‖ KID (8 bytes BE) ‖ nonce (12 random bytes) ‖ AES-256-GCM(chat_key, nonce, plaintext, AAD) )
 *   AAD      = "sotto group chat v1" ‖ 0x00 ‖ room ‖ 0x00 ‖ sender participant id ‖ 0x00 ‖ KID
 *   plaintext = JSON { seq, text }
 *
 * A separate key (not the SFrame key itself) because the SFrame context must never encrypt with a
 * nonce it did not count (RFC 9605 §4.4.1); chat nonces are random, 96 bits, far below the
 * 2^32-messages-per-key bound of AES-GCM (NIST SP 800-38D §8.3) for a chat. The AAD binds room and
 * sender, so the server cannot pass one person's message off as another's; `seq` (per sender,
 * increasing) lets receivers refuse replays.
 */
import { concatBytes, encodeBigEndian, utf8, type Bytes } from '../bytes.ts';
import { fromBase64Url, toBase64Url } from './identity.ts';

const VERSION = 1;
const LABEL = 'sotto group chat v1';
const NONCE_BYTES = 12;
export const MAX_CHAT_TEXT = 4000;

export interface ChatContext {
  readonly room: string;
  readonly from: string;
}

export interface ChatPlaintext {
  readonly seq: number;
  readonly text: string;
}

/** WebCrypto's CryptoKey (named this way so the file also typechecks without the DOM library). */
type AesKey = Awaited<ReturnType<typeof crypto.subtle.deriveKey>>;

async function chatKey(baseKey: Uint8Array, kid: bigint, usage: 'encrypt' | 'decrypt'): Promise<AesKey> {
  const ikm = await crypto.subtle.importKey('raw', new Uint8Array(baseKey), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: concatBytes(utf8(LABEL), encodeBigEndian(kid, 8)) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    [usage],
  );
}

function aad(ctx: ChatContext, kid: bigint): Bytes {
  return concatBytes(utf8(LABEL), new Uint8Array([0]), utf8(ctx.room), new Uint8Array([0]), utf8(ctx.from), new Uint8Array([0]), encodeBigEndian(kid, 8));
}

export async function encryptChat(ctx: ChatContext, kid: bigint, baseKey: Uint8Array, message: ChatPlaintext): Promise<string> {
  if (message.text.length > MAX_CHAT_TEXT) throw new RangeError(`chat messages are at most ${MAX_CHAT_TEXT} characters`);
  const key = await chatKey(baseKey, kid, 'encrypt');
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad(ctx, kid) }, key, utf8(JSON.stringify(message)));
  return toBase64Url(concatBytes(new Uint8Array([VERSION]), encodeBigEndian(kid, 8), nonce, new Uint8Array(ct)));
}

/** The KID a chat blob was encrypted under (to find the sender's key), or null if malformed. */
export function chatKid(blob: string): bigint | null {
  const raw = fromBase64Url(blob);
  if (!raw || raw.length < 1 + 8 + NONCE_BYTES + 16 || raw[0] !== VERSION) return null;
  let kid = 0n;
  for (let i = 1; i < 9; i++) kid = (kid << 8n) | BigInt(raw[i]!);
  return kid;
}

/** The message, or null when it does not authenticate (wrong key, room or sender; tampered). */
export async function decryptChat(ctx: ChatContext, blob: string, baseKey: Uint8Array): Promise<ChatPlaintext | null> {
  const kid = chatKid(blob);
  const raw = fromBase64Url(blob);
  if (kid === null || !raw) return null;
  const key = await chatKey(baseKey, kid, 'decrypt');
  let pt: ArrayBuffer;
  try {
    pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: raw.subarray(9, 9 + NONCE_BYTES), additionalData: aad(ctx, kid) }, key, raw.subarray(9 + NONCE_BYTES));
  } catch {
    return null;
  }
  try {
    const m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(pt)) as Partial<ChatPlaintext>;
    if (!Number.isSafeInteger(m.seq) || typeof m.text !== 'string' || m.text.length > MAX_CHAT_TEXT) return null;
    return { seq: m.seq!, text: m.text };
  } catch {
    return null;
  }
}
