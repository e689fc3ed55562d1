/**
 * Encryption at rest for what the page stores (call history, contacts): a key derived from the
 * user's password, and libsodium's secretbox (XSalsa20-Poly1305, authenticated) with a fresh
 * random 24-byte nonce for every write, so a stolen browser profile shows only ciphertext.
 *
 * Key derivation: Argon2id (RFC 9106) through libsodium's crypto_pwhash, interactive limits
 * (2 passes, 64 MiB), when the libsodium build has it. The standard libsodium-wrappers build
 * does not (crypto_pwhash is in the "sumo" build); then PBKDF2-HMAC-SHA-256 with 600,000
 * iterations (WebCrypto; OWASP's 2023 figure) stands in. The header records which function and
 * parameters made the key, so data stays readable whichever build later opens it.
 *
 * A vault is a header (kdf, salt, a sealed check value proving the key) and sealed blobs. Pure
 * apart from the injected libsodium and WebCrypto, and so tested in Node.
 */

/** The part of libsodium-wrappers this uses. */
export interface Sodium {
  crypto_secretbox_easy(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  crypto_secretbox_open_easy(ciphertext: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  randombytes_buf(length: number): Uint8Array;
  crypto_secretbox_NONCEBYTES: number;
  crypto_secretbox_KEYBYTES: number;
  /** Only in libsodium's sumo build. */
  crypto_pwhash?: (keyLength: number, password: string | Uint8Array, salt: Uint8Array, opsLimit: number, memLimit: number, algorithm: number) => Uint8Array;
  crypto_pwhash_ALG_ARGON2ID13?: number;
  crypto_pwhash_OPSLIMIT_INTERACTIVE?: number;
  crypto_pwhash_MEMLIMIT_INTERACTIVE?: number;
}

export type KdfParams = { alg: 'argon2id13'; opsLimit: number; memLimit: number } | { alg: 'pbkdf2-sha256'; iterations: number };

export interface Sealed {
  /** base64 */
  nonce: string;
  /** base64: ciphertext with its 16-byte Poly1305 tag. */
  box: string;
}

export interface VaultHeader {
  v: 1;
  kdf: KdfParams;
  /** base64, 16 random bytes. */
  salt: string;
  /** CHECK_TEXT sealed with the key: a wrong password fails here, before any data is touched. */
  check: Sealed;
}

const CHECK_TEXT = 'sotto vault v1';
export const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;

export class VaultError extends Error {
  override name = 'VaultError';
  readonly reason: 'wrong-password' | 'corrupt';
  constructor(reason: VaultError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The strongest key derivation this libsodium build offers. */
export function defaultKdf(sodium: Sodium): KdfParams {
  if (typeof sodium.crypto_pwhash === 'function' && sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE && sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE)
    return { alg: 'argon2id13', opsLimit: sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE, memLimit: sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE };
  return { alg: 'pbkdf2-sha256', iterations: PBKDF2_ITERATIONS };
}

export async function deriveKey(sodium: Sodium, password: string, salt: Uint8Array, kdf: KdfParams): Promise<Uint8Array> {
  const length = sodium.crypto_secretbox_KEYBYTES;
  if (kdf.alg === 'argon2id13') {
    if (typeof sodium.crypto_pwhash !== 'function' || sodium.crypto_pwhash_ALG_ARGON2ID13 === undefined)
      throw new VaultError('corrupt', 'this vault needs Argon2id, which this build of libsodium lacks');
    return sodium.crypto_pwhash(length, password, salt, kdf.opsLimit, kdf.memLimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
  }
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations: kdf.iterations }, material, length * 8);
  return new Uint8Array(bits);
}

export function seal(sodium: Sodium, key: Uint8Array, plaintext: string): Sealed {
  const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
  const box = sodium.crypto_secretbox_easy(new TextEncoder().encode(plaintext), nonce, key);
  return { nonce: toBase64(nonce), box: toBase64(box) };
}

/** Throws VaultError('corrupt') when the box does not authenticate under `key`. */
export function open(sodium: Sodium, key: Uint8Array, sealed: Sealed): string {
  let plain: Uint8Array;
  try {
    plain = sodium.crypto_secretbox_open_easy(fromBase64(sealed.box), fromBase64(sealed.nonce), key);
  } catch {
    throw new VaultError('corrupt', 'stored data does not authenticate');
  }
  return new TextDecoder().decode(plain);
}

/** A new vault for `password`: the header to store, and the key. */
export async function createVault(sodium: Sodium, password: string, kdf: KdfParams = defaultKdf(sodium)): Promise<{ header: VaultHeader; key: Uint8Array }> {
  const salt = sodium.randombytes_buf(SALT_BYTES);
  const key = await deriveKey(sodium, password, salt, kdf);
  return { header: { v: 1, kdf, salt: toBase64(salt), check: seal(sodium, key, CHECK_TEXT) }, key };
}

/** The key of an existing vault; VaultError('wrong-password') if `password` is not the one it was made with. */
export async function unlockVault(sodium: Sodium, header: VaultHeader, password: string): Promise<Uint8Array> {
  const key = await deriveKey(sodium, password, fromBase64(header.salt), header.kdf);
  let check: string;
  try {
    check = open(sodium, key, header.check);
  } catch {
    throw new VaultError('wrong-password', 'the password does not open the stored history');
  }
  if (check !== CHECK_TEXT) throw new VaultError('corrupt', 'unexpected vault check value');
  return key;
}

/** Validate a stored header (it comes from disk: anything may be there). */
export function parseHeader(v: unknown): VaultHeader | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const h = v as Partial<VaultHeader>;
  const sealed = (s: unknown): s is Sealed => !!s && typeof (s as Sealed).nonce === 'string' && typeof (s as Sealed).box === 'string';
  const k = h.kdf as Partial<KdfParams> | undefined;
  const kdfOk =
    !!k &&
    ((k.alg === 'argon2id13' && Number.isInteger((k as { opsLimit?: unknown }).opsLimit) && Number.isInteger((k as { memLimit?: unknown }).memLimit)) ||
      (k.alg === 'pbkdf2-sha256' && Number.isInteger((k as { iterations?: unknown }).iterations) && (k as { iterations: number }).iterations >= 100_000));
  if (h.v !== 1 || !kdfOk || typeof h.salt !== 'string' || !sealed(h.check)) return undefined;
  return h as VaultHeader;
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
