/**
 * Group-call key management: who gets which SFrame sender key, and when. No DOM, no sockets: the
 * page gives it a relay (room signalling) and the E2EE worker's key calls (GroupKeyIo), so the
 * whole protocol runs in unit tests with real crypto (test/unit/e2ee/group-keys.test.ts).
 *
 * Protocol (every participant runs the same, there is no leader):
 *
 *  - Identity: each participant draws an X25519 key pair when joining (identity.ts) and the
 *    signalling announces its public key to everyone. Participants without one cannot encrypt
 *    and get no keys; their media is not decrypted (the page shows them as unencrypted).
 *  - Sender keys: each participant encrypts its own frames under its own SFrame base key
 *    (RFC 9605 §5.1 sender keys; KID = generation ‖ ratchet step, sender-keys.ts). Keys travel
 *    pairwise, sealed with crypto_box from the sender's identity key to the recipient's
 *    (sealed.ts); the server relays blobs it cannot open.
 *  - Start: a participant entering the call draws a fresh key and seals it to everyone there.
 *  - Join: when someone joins, every sender ratchets its key one step (§5.1) and sends only the
 *    ratcheted key to the newcomer. Everyone else follows the ratchet on their own (their
 *    receiver keyrings derive the next step when the new KID appears), so nothing is sent to
 *    them. The newcomer cannot run the ratchet backwards: frames from before the join stay
 *    unreadable (forward secrecy).
 *  - Leave: when someone leaves, every sender draws a fresh key in a new generation, seals it to
 *    each remaining participant, and switches to it once every one of them has acknowledged
 *    (or after `switchTimeoutMs`, so one unresponsive peer cannot keep the old key in use).
 *    The leaver never gets the new key: media after the switch is unreadable to them.
 *  - Replays: each sealed message carries a per-pair sequence number; an old or repeated one is
 *    refused, so the server cannot make a participant reinstall an old key.
 *  - Chat: encrypted under a key derived from the sender's current media key (chat.ts).
 *
 * Changes of our own key (start, join, leave) run one at a time, in order; incoming key messages
 * and acknowledgements are handled at once (a leave waiting for acknowledgements must see them).
 */
import type { Bytes } from '../bytes.ts';
import { Emitter } from '../../util/emitter.ts';
import type { SasSymbol } from '../sas.ts';
import { makeKid } from '../sframe/kid.ts';
import { chatKid, decryptChat, encryptChat, type ChatPlaintext } from './chat.ts';
import { fromBase64Url, toBase64Url, type GroupIdentity } from './identity.ts';
import { PeerKeyStore } from './peer-keys.ts';
import { safetyNumber } from './safety-number.ts';
import { keyBytes, openKeyMessage, sealKeyMessage, SealedMessageError, type KeyMessageBody } from './sealed.ts';
import { SenderKeySchedule, type SenderKey } from './sender-keys.ts';

export interface GroupPeer {
  readonly id: string;
  /** The peer's X25519 public key (base64url), or null: it cannot encrypt. */
  readonly identityKey: string | null;
}

/** What the manager needs from the page. */
export interface GroupKeyIo {
  /** Sends an opaque blob to one participant through the room signalling (`relay`). */
  relay(to: string, blob: string): void;
  /** Our frames are encrypted under this key from now on (E2EE worker setSenderKey). */
  setSenderKey(kid: bigint, key: Bytes): Promise<void>;
  /** A participant's frames under this KID decrypt with this key (worker setReceiverKey). */
  setReceiverKey(participantId: string, kid: bigint, key: Bytes): Promise<void>;
  /** A participant left: drop its keys (worker removeParticipant). */
  forgetParticipant(participantId: string): void;
}

export type GroupKeyEvents = {
  /** We encrypt under a new KID. */
  senderkey: [kid: bigint];
  /** A participant's key was installed. */
  receiverkey: [participantId: string, kid: bigint];
  /** A relayed blob was refused (forged, replayed, for someone else...). */
  rejected: [participantId: string, reason: string];
};

export interface GroupKeyOptions {
  readonly room: string;
  readonly selfId: string;
  readonly identity: GroupIdentity;
  readonly io: GroupKeyIo;
  /** Longest wait for acknowledgements before switching to a new generation (ms). */
  readonly switchTimeoutMs?: number;
  readonly schedule?: SenderKeySchedule;
}

interface PeerState {
  readonly id: string;
  readonly publicKey: Bytes | null;
  /** Next sequence number we seal to this peer. */
  sendSeq: number;
  /** Highest sequence number opened from this peer (-1: none). */
  recvSeq: number;
  readonly keys: PeerKeyStore;
  /** Highest chat seq seen from this peer. */
  chatSeq: number;
  /** KID of the last key we installed for this peer. */
  kid: bigint | null;
}

interface PendingSwitch {
  readonly key: SenderKey;
  readonly waiting: Set<string>;
  done(): void;
}

export class GroupKeyManager extends Emitter<GroupKeyEvents> {
  readonly room: string;
  readonly selfId: string;
  readonly #identity: GroupIdentity;
  readonly #io: GroupKeyIo;
  readonly #switchTimeoutMs: number;
  readonly #schedule: SenderKeySchedule;
  readonly #peers = new Map<string, PeerState>();
  #queue: Promise<void> = Promise.resolve();
  /** Incoming blobs are opened one at a time, in the order the signalling delivered them. */
  #inbox: Promise<void> = Promise.resolve();
  /** The key our media and chat use now (the schedule may be ahead while a switch is pending). */
  #sending: { kid: bigint; baseKey: Bytes } | null = null;
  #pending: PendingSwitch | null = null;
  #chatSeq = 0;
  #closed = false;

  constructor(o: GroupKeyOptions) {
    super();
    this.room = o.room;
    this.selfId = o.selfId;
    this.#identity = o.identity;
    this.#io = o.io;
    this.#switchTimeoutMs = o.switchTimeoutMs ?? 1500;
    this.#schedule = o.schedule ?? new SenderKeySchedule();
  }

  /** The KID our frames carry now, or null before start(). */
  get senderKid(): bigint | null {
    return this.#sending?.kid ?? null;
  }

  /** The KID last installed for a peer, or null. */
  peerKid(participantId: string): bigint | null {
    return this.#peers.get(participantId)?.kid ?? null;
  }

  /** Whether a peer can encrypt (announced an identity key). */
  canEncrypt(participantId: string): boolean {
    return this.#peers.get(participantId)?.publicKey != null;
  }

  /** Enter the call: fresh key, sealed to everyone already there. */
  start(peers: readonly GroupPeer[]): Promise<void> {
    // Known at once (not when the queued step runs): their keys may arrive before it does.
    for (const p of peers) if (!this.#peers.has(p.id)) this.#addPeer(p);
    return this.#run(async () => {
      const key = this.#schedule.fresh();
      await this.#use(key);
      await Promise.all([...this.#peers.values()].map((p) => this.#sendKey(p, key)));
    });
  }

  /** Someone joined after us: ratchet, and give them only the ratcheted key. */
  peerJoined(peer: GroupPeer): Promise<void> {
    if (this.#peers.has(peer.id)) return Promise.resolve();
    // Known at once: the newcomer's own key usually arrives before our ratchet step has run
    // (it may wait behind a rekey), and must not be refused as coming from a stranger.
    const state = this.#addPeer(peer);
    return this.#run(async () => {
      if (this.#peers.get(peer.id) !== state) return; // left again meanwhile
      if (!this.#sending) return; // not started: start() sends to everyone
      const { key, rotated } = await this.#schedule.ratchet();
      await this.#use(key);
      // A rotation (ratchet steps exhausted) goes to everyone; a ratchet only to the newcomer.
      const to = rotated ? [...this.#peers.values()] : [state];
      await Promise.all(to.map((p) => this.#sendKey(p, key)));
    });
  }

  /** Someone left: new generation for the rest, switched to once they have it. */
  peerLeft(participantId: string): Promise<void> {
    const state = this.#peers.get(participantId);
    if (state) {
      // Forget them at once: their messages still in flight are refused from now on.
      this.#peers.delete(participantId);
      state.keys.clear();
      this.#io.forgetParticipant(participantId);
      this.#pending?.waiting.delete(participantId);
      if (this.#pending?.waiting.size === 0) this.#pending.done();
    }
    return this.#run(async () => {
      if (!this.#sending) return;
      const key = this.#schedule.fresh();
      const recipients = [...this.#peers.values()].filter((p) => p.publicKey);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => finish(), this.#switchTimeoutMs);
        const finish = () => {
          clearTimeout(timer);
          if (this.#pending?.key === key) this.#pending = null;
          resolve();
        };
        this.#pending = { key, waiting: new Set(recipients.map((p) => p.id)), done: finish };
        if (recipients.length === 0) finish();
        else for (const p of recipients) void this.#sendKey(p, key);
      });
      if (!this.#closed) await this.#use(key);
    });
  }

  /** A blob relayed to us from `from`. Never throws: refusals are emitted as `rejected`. */
  receive(from: string, blob: string): Promise<void> {
    const next = this.#inbox.then(() => this.#receive(from, blob));
    this.#inbox = next;
    return next;
  }

  async #receive(from: string, blob: string): Promise<void> {
    const peer = this.#peers.get(from);
    try {
      if (!peer?.publicKey) throw new SealedMessageError('from a participant we hold no identity key for');
      const { seq, body } = await openKeyMessage({ room: this.room, from, to: this.selfId }, blob, peer.publicKey, this.#identity.secretKey);
      if (seq <= peer.recvSeq) throw new SealedMessageError(`replayed or reordered (seq ${seq} after ${peer.recvSeq})`);
      peer.recvSeq = seq;
      if (this.#peers.get(from) !== peer) return; // left while we were opening
      if (body.type === 'ack') {
        const pending = this.#pending;
        if (pending && pending.key.generation === body.generation && pending.key.step === body.step) {
          pending.waiting.delete(from);
          if (pending.waiting.size === 0) pending.done();
        }
        return;
      }
      const kid = makeKid(BigInt(body.generation), BigInt(body.step));
      const key = keyBytes(body);
      try {
        peer.keys.set(kid, key);
        await this.#io.setReceiverKey(from, kid, key);
      } finally {
        key.fill(0);
      }
      peer.kid = kid;
      this.emit('receiverkey', from, kid);
      await this.#send(peer, { type: 'ack', generation: body.generation, step: body.step });
    } catch (err) {
      this.emit('rejected', from, err instanceof Error ? err.message : String(err));
    }
  }

  /** A chat message for everyone, encrypted under our current key. */
  async encryptChat(text: string): Promise<string> {
    const sending = this.#sending;
    if (!sending) throw new Error('no key yet: the call has not started');
    return encryptChat({ room: this.room, from: this.selfId }, sending.kid, sending.baseKey, { seq: ++this.#chatSeq, text });
  }

  /** A chat message from `from`, or null if it does not decrypt or is a replay. */
  async decryptChat(from: string, blob: string): Promise<ChatPlaintext | null> {
    const peer = this.#peers.get(from);
    const kid = chatKid(blob);
    if (!peer || kid === null) return null;
    const key = await peer.keys.get(kid);
    if (!key) return null;
    const message = await decryptChat({ room: this.room, from }, blob, key);
    if (!message || message.seq <= peer.chatSeq) return null;
    peer.chatSeq = message.seq;
    return message;
  }

  /** The safety number we share with a peer (10 emoji), or null if it cannot encrypt. */
  async safetyNumber(participantId: string): Promise<SasSymbol[] | null> {
    const peer = this.#peers.get(participantId);
    if (!peer?.publicKey) return null;
    return safetyNumber(this.room, this.#identity.publicKey, peer.publicKey);
  }

  close(): void {
    this.#closed = true;
    this.#pending?.done();
    for (const p of this.#peers.values()) p.keys.clear();
    this.#peers.clear();
    this.#sending?.baseKey.fill(0);
    this.#sending = null;
  }

  #run(op: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(() => (this.#closed ? undefined : op()));
    // A failed step must not stop the ones after it; the caller still sees its own failure.
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #addPeer(peer: GroupPeer): PeerState {
    const publicKey = peer.identityKey ? fromBase64Url(peer.identityKey, 32) : null;
    const state: PeerState = { id: peer.id, publicKey, sendSeq: 0, recvSeq: -1, keys: new PeerKeyStore(), chatSeq: 0, kid: null };
    this.#peers.set(peer.id, state);
    return state;
  }

  async #use(key: SenderKey): Promise<void> {
    const copy = new Uint8Array(key.baseKey);
    await this.#io.setSenderKey(key.kid, copy);
    this.#sending?.baseKey.fill(0);
    this.#sending = { kid: key.kid, baseKey: new Uint8Array(key.baseKey) };
    this.emit('senderkey', key.kid);
  }

  async #sendKey(peer: PeerState, key: SenderKey): Promise<void> {
    await this.#send(peer, { type: 'key', generation: key.generation, step: key.step, key: toBase64Url(key.baseKey) });
  }

  async #send(peer: PeerState, body: KeyMessageBody): Promise<void> {
    if (!peer.publicKey || this.#closed) return;
    const seq = peer.sendSeq++;
    const blob = await sealKeyMessage({ room: this.room, from: this.selfId, to: peer.id }, seq, body, this.#identity.secretKey, peer.publicKey);
    if (this.#peers.get(peer.id) === peer) this.#io.relay(peer.id, blob);
  }
}
