/**
 * Key agreement for 1:1 calls: an X25519 exchange carried by the call signalling, with a hash
 * commitment and a short authentication string (SAS), after ZRTP (RFC 6189).
 *
 * The signalling goes through Sotto's server, which relays it and could rewrite it: a server
 * that swaps both public keys for its own sits in the middle and can read the media. The users
 * detect that by comparing the SAS, which is equal on both sides only if both computed the same
 * shared secret over the same public keys. For the check to be worth 30 bits, the attacker must
 * not be able to try many keys until the two SAS match; the commitment prevents that: the
 * offerer is bound to its public key before it sees the answerer's, and the answerer reveals its
 * key before it sees the offerer's (RFC 6189 §4.4.1.1 "Hash Commitment").
 *
 *   offerer (a, A)                                              answerer (b, B)
 *     commit    { v, type: "commit", session, commitment: H(session, A) }  ─────►
 *               ◄───── { v, type: "public-key", session, publicKey: B }     publicKey
 *     reveal    { v, type: "reveal", session, publicKey: A }  ─────►  check H(session, A) == commitment
 *
 *   shared     = X25519(a, B) = X25519(b, A)
 *   transcript = H("transcript", session, commitment, A, B)
 *   key(offerer → answerer) = HKDF-SHA256(shared, salt = transcript, "sotto e2ee v1 offerer to answerer", 32)
 *   key(answerer → offerer) = HKDF-SHA256(shared, salt = transcript, "sotto e2ee v1 answerer to offerer", 32)
 *   SAS material            = HKDF-SHA256(shared, salt = transcript, "sotto e2ee v1 sas", 4)
 *
 * H is BLAKE2b-256 (crypto_generichash) over length-prefixed fields after a domain label, so no
 * two different inputs hash the same way. The two keys are SFrame base_keys (RFC 9605 §4.4.1:
 * one per direction, each used by one sender only). `session` identifies the call (e.g. the SIP
 * Call-ID) and binds every message and key to it, so messages from another call are refused.
 *
 * Messages are JSON-serialisable; binary fields are base64url without padding. Every input is
 * validated: wrong version, session, type, lengths, a reveal that does not match the commitment.
 * A message that comes out of order (or again) is refused and changes nothing; a message that is
 * in order but invalid aborts the agreement for good ('failed'), since it can only come from an
 * attacker or a bug, and retrying would give an attacker more tries.
 *
 * Why libsodium rather than WebCrypto's X25519: WebCrypto X25519 is recent (Chrome 133, 2025) and
 * missing from browsers Sotto still supports, WebCrypto has no BLAKE2b, and libsodium's
 * crypto_scalarmult refuses low-order public keys (all-zero shared secret) for us. libsodium is
 * constant-time, audited, and the same code runs in every browser and in the tests.
 */
import sodium from 'libsodium-wrappers';
import { concatBytes, encodeBigEndian, utf8, type Bytes } from './bytes.ts';
import { SAS_BYTES, sasFromBytes, type SasSymbol } from './sas.ts';

export const KEY_AGREEMENT_VERSION = 1;
const PUBLIC_KEY_BYTES = 32;
const HASH_BYTES = 32;
const BASE_KEY_BYTES = 32;
const MAX_SESSION_LENGTH = 256;

export type KeyAgreementRole = 'offerer' | 'answerer';

export interface CommitMessage {
  readonly v: 1;
  readonly type: 'commit';
  readonly session: string;
  readonly commitment: string;
}

export interface PublicKeyMessage {
  readonly v: 1;
  readonly type: 'public-key';
  readonly session: string;
  readonly publicKey: string;
}

export interface RevealMessage {
  readonly v: 1;
  readonly type: 'reveal';
  readonly session: string;
  readonly publicKey: string;
}

export type KeyAgreementMessage = CommitMessage | PublicKeyMessage | RevealMessage;

/**
 *   idle          offerer: start() → committed;    answerer: commit → awaiting-reveal
 *   committed     offerer: public-key → done (replies with reveal)
 *   awaiting-reveal  answerer: reveal → done
 *   any in-order but invalid message → failed (final)
 */
export type KeyAgreementState = 'idle' | 'committed' | 'awaiting-reveal' | 'done' | 'failed';

export type KeyAgreementErrorCode =
  | 'invalid-message'
  | 'wrong-session'
  | 'unexpected-message'
  | 'commitment-mismatch'
  | 'invalid-public-key'
  | 'failed';

export class KeyAgreementError extends Error {
  override name = 'KeyAgreementError';
  readonly code: KeyAgreementErrorCode;

  constructor(code: KeyAgreementErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface KeyAgreementResult {
  /** base_key for this side's SenderContext. */
  readonly sendKey: Bytes;
  /** base_key for the peer's frames (this side's ReceiverKeyring). */
  readonly receiveKey: Bytes;
  /** The symbols both users compare. */
  readonly sas: readonly SasSymbol[];
}

const B64 = () => sodium.base64_variants.URLSAFE_NO_PADDING;

export function toBase64Url(bytes: Uint8Array): string {
  return sodium.to_base64(bytes, B64());
}

/** Strict base64url: refuses padding, other alphabets, and non-canonical trailing bits. */
function fromBase64Url(text: string, length: number, field: string): Bytes {
  let bytes: Uint8Array;
  try {
    bytes = sodium.from_base64(text, B64());
  } catch {
    throw new KeyAgreementError('invalid-message', `${field} is not base64url`);
  }
  if (bytes.length !== length) throw new KeyAgreementError('invalid-message', `${field} must be ${length} bytes, got ${bytes.length}`);
  if (sodium.to_base64(bytes, B64()) !== text) throw new KeyAgreementError('invalid-message', `${field} is not canonical base64url`);
  return new Uint8Array(bytes);
}

function checkSession(session: unknown): string {
  // Printable ASCII, as a SIP Call-ID is (RFC 3261 §25.1 "word" characters and "@").
  if (typeof session !== 'string' || session.length === 0 || session.length > MAX_SESSION_LENGTH || !/^[\x21-\x7e]+$/.test(session)) {
    throw new KeyAgreementError('invalid-message', `session must be 1-${MAX_SESSION_LENGTH} printable ASCII characters`);
  }
  return session;
}

/**
 * Validates an untrusted value (parsed JSON from the signalling) as a key agreement message.
 * Checks shape, version, type and field formats; lengths of binary fields are checked on use.
 */
export function parseKeyAgreementMessage(value: unknown): KeyAgreementMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeyAgreementError('invalid-message', 'message must be an object');
  }
  const m = value as Record<string, unknown>;
  if (m.v !== KEY_AGREEMENT_VERSION) throw new KeyAgreementError('invalid-message', `unsupported version ${String(m.v)}`);
  const session = checkSession(m.session);
  const field = (name: string): string => {
    const v = m[name];
    if (typeof v !== 'string' || v.length > 64) throw new KeyAgreementError('invalid-message', `${name} must be a short string`);
    return v;
  };
  const allowed = (keys: string[]) => {
    for (const k of Object.keys(m)) if (!keys.includes(k)) throw new KeyAgreementError('invalid-message', `unknown field ${k}`);
  };
  switch (m.type) {
    case 'commit':
      allowed(['v', 'type', 'session', 'commitment']);
      return { v: 1, type: 'commit', session, commitment: field('commitment') };
    case 'public-key':
    case 'reveal':
      allowed(['v', 'type', 'session', 'publicKey']);
      return { v: 1, type: m.type, session, publicKey: field('publicKey') };
    default:
      throw new KeyAgreementError('invalid-message', `unknown message type ${String(m.type)}`);
  }
}

/** BLAKE2b-256 of a domain label and length-prefixed fields. */
function hash(label: string, ...fields: Uint8Array[]): Bytes {
  const parts: Uint8Array[] = [utf8(`sotto e2ee v1 ${label}`)];
  for (const f of fields) parts.push(encodeBigEndian(BigInt(f.length), 2), f);
  return new Uint8Array(sodium.crypto_generichash(HASH_BYTES, concatBytes(...parts), null));
}

async function hkdfSha256(ikm: Bytes, salt: Bytes, info: string, length: number): Promise<Bytes> {
  const key = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: utf8(info) }, key, length * 8);
  return new Uint8Array(bits);
}

export class KeyAgreement {
  readonly role: KeyAgreementRole;
  readonly session: string;
  readonly #sessionBytes: Bytes;
  readonly #publicKey: Bytes;
  readonly #secretKey: Bytes;
  #state: KeyAgreementState = 'idle';
  #commitment: Bytes | null = null;
  #peerPublicKey: Bytes | null = null;
  #result: KeyAgreementResult | null = null;
  /** True while a message is being handled (key derivation awaits WebCrypto). */
  #busy = false;

  private constructor(role: KeyAgreementRole, session: string, keyPair: { publicKey: Uint8Array; privateKey: Uint8Array }) {
    this.role = role;
    this.session = session;
    this.#sessionBytes = utf8(session);
    this.#publicKey = new Uint8Array(keyPair.publicKey);
    this.#secretKey = new Uint8Array(keyPair.privateKey);
  }

  /** A new agreement with a fresh X25519 key pair, for one call. */
  static async create(role: KeyAgreementRole, session: string): Promise<KeyAgreement> {
    if (role !== 'offerer' && role !== 'answerer') throw new TypeError(`role must be offerer or answerer`);
    checkSession(session);
    await sodium.ready;
    // crypto_box_keypair is an X25519 key pair (crypto_box_curve25519xsalsa20poly1305).
    return new KeyAgreement(role, session, sodium.crypto_box_keypair());
  }

  get state(): KeyAgreementState {
    return this.#state;
  }

  /** The keys and SAS, once the state is 'done'. */
  get result(): KeyAgreementResult | null {
    return this.#result;
  }

  /** Offerer: the first message, committing to our public key. */
  start(): CommitMessage {
    if (this.role !== 'offerer') throw new KeyAgreementError('unexpected-message', 'only the offerer starts');
    if (this.#state !== 'idle') throw new KeyAgreementError('unexpected-message', `cannot start in state ${this.#state}`);
    this.#commitment = hash('commit', this.#sessionBytes, this.#publicKey);
    this.#state = 'committed';
    return { v: 1, type: 'commit', session: this.session, commitment: toBase64Url(this.#commitment) };
  }

  /**
   * Handles a message from the peer (parsed JSON, validated here). Returns the message to send
   * back, if any. Throws KeyAgreementError when the message is refused.
   */
  async receive(value: unknown): Promise<KeyAgreementMessage | null> {
    if (this.#state === 'failed') throw new KeyAgreementError('failed', 'key agreement already failed');
    const message = parseKeyAgreementMessage(value);
    if (message.session !== this.session) {
      throw new KeyAgreementError('wrong-session', 'message for another session');
    }
    // A second message arriving while the first is still deriving keys would pass the state
    // check below (the state changes only when derivation ends) and could swap the peer's key.
    if (this.#busy) throw new KeyAgreementError('unexpected-message', `${message.type} received while the previous message is being handled`);
    const expected = this.#expectedType();
    if (message.type !== expected) {
      throw new KeyAgreementError('unexpected-message', `${message.type} received in state ${this.#state}, expected ${expected ?? 'nothing'}`);
    }
    this.#busy = true;
    try {
      switch (message.type) {
        case 'commit':
          return this.#onCommit(message);
        case 'public-key':
          return await this.#onPublicKey(message);
        case 'reveal':
          await this.#onReveal(message);
          return null;
      }
    } catch (err) {
      this.#fail();
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  #expectedType(): KeyAgreementMessage['type'] | null {
    if (this.role === 'answerer' && this.#state === 'idle') return 'commit';
    if (this.role === 'offerer' && this.#state === 'committed') return 'public-key';
    if (this.role === 'answerer' && this.#state === 'awaiting-reveal') return 'reveal';
    return null;
  }

  #onCommit(message: CommitMessage): PublicKeyMessage {
    this.#commitment = fromBase64Url(message.commitment, HASH_BYTES, 'commitment');
    this.#state = 'awaiting-reveal';
    return { v: 1, type: 'public-key', session: this.session, publicKey: toBase64Url(this.#publicKey) };
  }

  async #onPublicKey(message: PublicKeyMessage): Promise<RevealMessage> {
    this.#peerPublicKey = this.#checkPeerKey(fromBase64Url(message.publicKey, PUBLIC_KEY_BYTES, 'publicKey'));
    await this.#finish();
    return { v: 1, type: 'reveal', session: this.session, publicKey: toBase64Url(this.#publicKey) };
  }

  async #onReveal(message: RevealMessage): Promise<void> {
    const revealed = this.#checkPeerKey(fromBase64Url(message.publicKey, PUBLIC_KEY_BYTES, 'publicKey'));
    if (!sodium.memcmp(hash('commit', this.#sessionBytes, revealed), this.#commitment!)) {
      throw new KeyAgreementError('commitment-mismatch', 'revealed public key does not match the commitment');
    }
    this.#peerPublicKey = revealed;
    await this.#finish();
  }

  #checkPeerKey(key: Bytes): Bytes {
    // Our own key reflected back would make both directions' keys meaningless to compare.
    if (sodium.memcmp(key, this.#publicKey)) throw new KeyAgreementError('invalid-public-key', 'peer sent our own public key');
    return key;
  }

  async #finish(): Promise<void> {
    let shared: Bytes;
    try {
      shared = new Uint8Array(sodium.crypto_scalarmult(this.#secretKey, this.#peerPublicKey!));
    } catch {
      // libsodium refuses public keys of small order, whose shared secret is all zeros.
      throw new KeyAgreementError('invalid-public-key', 'peer public key is of small order');
    }
    const [offererKey, answererKey] =
      this.role === 'offerer' ? [this.#publicKey, this.#peerPublicKey!] : [this.#peerPublicKey!, this.#publicKey];
    const transcript = hash('transcript', this.#sessionBytes, this.#commitment!, offererKey, answererKey);
    const [offererToAnswerer, answererToOfferer, sasMaterial] = await Promise.all([
      hkdfSha256(shared, transcript, 'sotto e2ee v1 offerer to answerer', BASE_KEY_BYTES),
      hkdfSha256(shared, transcript, 'sotto e2ee v1 answerer to offerer', BASE_KEY_BYTES),
      hkdfSha256(shared, transcript, 'sotto e2ee v1 sas', SAS_BYTES),
    ]);
    shared.fill(0);
    this.#secretKey.fill(0);
    this.#result = {
      sendKey: this.role === 'offerer' ? offererToAnswerer : answererToOfferer,
      receiveKey: this.role === 'offerer' ? answererToOfferer : offererToAnswerer,
      sas: sasFromBytes(sasMaterial),
    };
    this.#state = 'done';
  }

  #fail(): void {
    this.#state = 'failed';
    this.#secretKey.fill(0);
    this.#result = null;
  }
}
